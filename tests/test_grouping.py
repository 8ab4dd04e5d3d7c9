"""Grouping, pure: the groups are a function of the set of samples, whatever order they arrive in.
No threads, no disks: samples are points, "the same recording" is a distance below a threshold
(not transitive: a chain of close points is not one sound), and the order key is a number."""

from __future__ import annotations

import random

from sp404d.library.grouping import Grouping

CLOSE = 1.0


def same(points: dict[int, float], a: int, b: int) -> bool:
    return abs(points[a] - points[b]) < CLOSE


def reference(points: dict[int, float], keys: dict[int, float]) -> dict[int, int]:
    """Greedy clustering in the total order, all at once: the definition the incremental rule keeps."""
    canonical: dict[int, int] = {}
    for s in sorted(points, key=keys.get, reverse=True):
        better = [c for c in canonical if canonical[c] == c and same(points, s, c)]
        canonical[s] = max(better, key=keys.get) if better else s
    return canonical


def incremental(points, keys, order, judged: list | None = None) -> Grouping:
    g: Grouping = Grouping()
    placed: set[int] = set()

    def candidates(z):  # every placed sample (an index would give the nearest)
        return [s for s in placed if s != z]

    def judge(z, y):
        if judged is not None:
            judged.append((z, y))
        return ("same", z, y) if same(points, z, y) else None

    for s in order:
        placed.add(s)
        changes = g.add(s, (keys[s],), candidates, judge)
        assert changes[0].sample == s
    return g


def scene(seed: int, n: int = 60) -> tuple[dict[int, float], dict[int, float]]:
    rng = random.Random(seed)
    # clusters of near points, with chains between some of them
    points = {i: rng.choice([0, 3, 6, 6.8, 9.5]) + rng.uniform(-0.9, 0.9) for i in range(n)}
    keys = {i: rng.random() for i in range(n)}
    return points, keys


def test_any_arrival_order_gives_the_greedy_groups():
    for seed in range(8):
        points, keys = scene(seed)
        want = reference(points, keys)
        for shuffle in range(10):
            order = list(points)
            random.Random(100 * seed + shuffle).shuffle(order)
            g = incremental(points, {k: v for k, v in keys.items()}, order)
            assert g.canonical_of == want, (seed, shuffle)
            for s, c in g.canonical_of.items():  # every member is the same recording as its canonical itself
                assert c == s or (same(points, s, c) and keys[c] > keys[s])
            assert g.members == {c: {s for s, cc in want.items() if cc == c and s != c}
                                 for c in set(want.values()) if any(cc == c and s != c for s, cc in want.items())}


def test_a_better_copy_takes_over_and_what_it_does_not_match_stands_alone():
    # 1 and 2 are one sound, 2 and 3 alike, 1 and 3 not: 2 arrives first and takes 3; then 1,
    # the best, takes 2; 3 is not the same as 1, so it becomes a sound of its own again
    points = {1: 0.0, 2: 0.6, 3: 1.4}
    keys = {1: 3.0, 2: 2.0, 3: 1.0}
    g = Grouping()
    placed: set[int] = set()

    def add(s):
        placed.add(s)
        return g.add(s, (keys[s],), lambda z: [x for x in placed if x != z],
                     lambda z, y: "v" if same(points, z, y) else None)

    add(2)
    assert [(p.sample, p.canonical) for p in add(3)] == [(3, 2)]
    changes = {p.sample: p.canonical for p in add(1)}
    assert changes == {1: 1, 2: 1, 3: 3}
    assert g.canonical_of == {1: 1, 2: 1, 3: 3} and g.members == {1: {2}}


def test_a_sample_described_again_leaves_and_its_members_are_placed_again():
    points = {1: 0.0, 2: 0.5, 3: 0.9, 4: 5.0}
    keys = {1: 4.0, 2: 3.0, 3: 2.0, 4: 1.0}
    g = incremental(points, keys, [4, 3, 2, 1])
    assert g.canonical_of == {1: 1, 2: 1, 3: 1, 4: 4}
    placed = {2, 3, 4}
    changes = {p.sample: p.canonical for p in g.remove(1, lambda z: [x for x in placed if x != z],
                                                       lambda z, y: "v" if same(points, z, y) else None)}
    assert changes == {2: 2, 3: 2} and g.canonical_of == {2: 2, 3: 2, 4: 4} and 1 not in g
    # it comes back described differently (now far away): the groups are those of the new set
    points[1] = 9.0
    placed.add(1)
    g.add(1, (keys[1],), lambda z: [x for x in placed if x != z], lambda z, y: "v" if same(points, z, y) else None)
    assert g.canonical_of == reference(points, keys)


def test_judging_is_asked_only_where_it_can_change_a_placement():
    # a new worse copy stops at the first (best) canonical that is the same recording
    points = {i: 0.1 * i for i in range(6)}
    keys = {i: float(10 - i) for i in range(6)}
    judged: list = []
    g = incremental(points, keys, [0, 1, 2, 3, 4, 5], judged)
    assert set(g.canonical_of.values()) == {0}
    assert judged == [(i, 0) for i in range(1, 6)]  # never against the other members
