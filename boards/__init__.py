"""Boards and devices: resource budgets now (:mod:`.devices`, used by the fitter); board
targets, synthesis and programming come with the boards issue."""
