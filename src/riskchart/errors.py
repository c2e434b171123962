"""Problems of the environment or the invocation, not of a chart file.

They are exceptions (a chart problem is a diagnostic value instead) and
print one clear sentence through click, with exit status 2.
"""

from typing import IO, Any

import click

from .check.characters import printable


class EnvironmentProblem(click.ClickException):
    exit_code = 2

    def format_message(self) -> str:
        return self.message

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"riskchart：错误：{printable(self.format_message())}", err=True, file=file)


class NoCharts(EnvironmentProblem):
    pass


class MissingGraphviz(EnvironmentProblem):
    pass


class MissingFont(EnvironmentProblem):
    pass


class OutputNotWritable(EnvironmentProblem):
    pass


class LockTimeout(EnvironmentProblem):
    pass


class MissingRasteriser(EnvironmentProblem):
    pass


class BadRevision(EnvironmentProblem):
    """`riskchart diff`: a revision the repository does not have, or one shaped like an option."""


class NotARepository(EnvironmentProblem):
    pass


class GitFailed(EnvironmentProblem):
    """git missing, failing or taking too long."""


class UsageProblem(EnvironmentProblem):
    """Arguments that do not fit together (a folder compared with a revision…)."""
