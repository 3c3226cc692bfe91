"""Drive shapes.py down some of its paths."""

from shapes import Shape, area

print(area("square", 2))
shape = Shape("circle", 1)
print(shape.describe(verbose=True))
print(shape.grow(1).describe())
