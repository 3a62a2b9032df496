"""Circuit IR (components on nets, ports, subcircuits) and its modified nodal analysis."""

from .graph import (
    GROUND,
    INVERTED_INPUTS,
    KINDS,
    NODE_COUNTS,
    PORT_ROLES,
    UNITS,
    CircuitGraph,
    Component,
    Port,
    SubcircuitDef,
    flatten,
    ordered_ports,
    validate_component,
)
from .mna import MnaSystem, mna_matrices

__all__ = [
    "GROUND",
    "INVERTED_INPUTS",
    "KINDS",
    "NODE_COUNTS",
    "PORT_ROLES",
    "UNITS",
    "CircuitGraph",
    "Component",
    "MnaSystem",
    "Port",
    "SubcircuitDef",
    "flatten",
    "mna_matrices",
    "ordered_ports",
    "validate_component",
]
