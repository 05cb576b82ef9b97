"""Generators behind one protocol (base.SplitGenerator) and the registry that loads them."""
