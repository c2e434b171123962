"""Problems of the environment or the invocation, not of a chart file.

They are exceptions (a chart problem is a diagnostic value instead) and
print one clear sentence through click, with exit status 2.
"""

import click


class EnvironmentProblem(click.ClickException):
    exit_code = 2

    def format_message(self) -> str:
        return self.message


class NoCharts(EnvironmentProblem):
    pass


class MissingGraphviz(EnvironmentProblem):
    pass


class MissingFont(EnvironmentProblem):
    pass


class OutputLocked(EnvironmentProblem):
    pass
