"""The method registry: ``@METHODS.register("name")`` on a ``Method`` subclass adds a method."""

from unlearnkit.registry import Registry

METHODS = Registry("method")
