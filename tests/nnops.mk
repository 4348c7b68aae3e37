# tests of the neural-network operators
