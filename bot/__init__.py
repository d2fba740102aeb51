"""multilogue: a Matrix bot for dialogue between allied social movements.

`bot` is the process and the Matrix edge: command line, configuration, storage,
the one module that talks to matrix-nio, event routing and sending.
"""
