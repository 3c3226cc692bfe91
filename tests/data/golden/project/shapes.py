"""Shapes: functions, a class, full and partial branches, and an excluded line."""

import math


def area(kind, size):
    if kind == "square":
        return size * size
    elif kind == "circle":
        return math.pi * size * size
    raise ValueError(kind)  # pragma: no cover


class Shape:
    def __init__(self, kind, size):
        self.kind = kind
        self.size = size

    def describe(self, verbose=False):
        text = f"{self.kind} of size {self.size}"
        if verbose:
            text += f" and area {area(self.kind, self.size):.2f}"
        return text

    def grow(self, factor):
        while factor > 1:
            self.size *= 2
            factor //= 2
        return self


def never_called(values):
    total = 0
    for value in values:
        if value & 1:
            total += value
    return total
