"""The math of predictive coding on graphs: the graph format, Q formats, and the float,
fixed-point and backprop golden models that the hardware is checked against."""
