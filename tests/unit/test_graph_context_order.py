"""A graph store lists neighbours in no order of its own (Neo4j's follows record ids, which
a busy database reuses), so a GraphContext holds them in one order: two reads of the same
graph compare equal however the store listed them."""

from __future__ import annotations

from projections.ports import GraphContext, Neighbour


def test_contexts_with_the_same_neighbours_listed_in_another_order_are_equal():
    d, f, a = (Neighbour("e", "d", "NEXT_IN_SESSION"), Neighbour("e", "f", "NEXT_IN_SESSION"),
               Neighbour("x", "a", "DERIVED_FROM"))
    chain = frozenset({("d", "e"), ("e", "f")})
    assert GraphContext((a, f, d), chain) == GraphContext((d, f, a), chain)
    assert GraphContext((a, f, d), chain).neighbours == (d, f, a)


def test_a_repeated_neighbour_is_kept_as_often_as_the_store_listed_it():
    loop = Neighbour("s", "s", "NEXT_IN_SESSION")  # a self-loop is an out- and an in-edge
    assert GraphContext((loop, loop), frozenset()).neighbours == (loop, loop)
    assert GraphContext((loop, loop), frozenset()) != GraphContext((loop,), frozenset())
