"""A module the run never imports: every line is missing."""


def helper(x):
    return [item for item in x if item]
