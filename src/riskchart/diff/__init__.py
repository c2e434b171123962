"""`riskchart diff`: what changed between two versions of a project, per chart.

changes.py is the shared value model; the comparison, the sources (git
revisions or folders), the formats and the redline drawings read it.
"""
