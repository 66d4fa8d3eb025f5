"""Users and MemCubes: who exists, who owns which cube, and who may read or write it.

Roles, strongest first: owner > writer > reader. A user with no role on a cube cannot see
that it exists (the SDK reports NotFound rather than AccessDenied for reads, so cube ids do
not leak); a reader who tries to write gets AccessDenied.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping

from mos.domain.commands import CommandContext
from mos.domain.errors import AccessDenied, InvalidInput, InvalidTransition
from mos.domain.events import CubeAccessRevoked, CubeCreated, CubeShared, Event, UserCreated, cube_key, user_key

ROLES = ("owner", "writer", "reader")
_RANK = {"reader": 1, "writer": 2, "owner": 3}


@dataclass(frozen=True)
class Cube:
    cube_id: str
    name: str
    owner: str
    version: int
    roles: Mapping[str, str] = field(default_factory=dict)

    def role_of(self, user_id: str) -> str | None:
        return self.roles.get(user_id)

    def can(self, user_id: str, needed: str) -> bool:
        role = self.role_of(user_id)
        return role is not None and _RANK[role] >= _RANK[needed]


def evolve_cube(cube: Cube | None, event: Event) -> Cube:
    if isinstance(event, CubeCreated):
        return Cube(event.cube_id, event.name, event.owner, event.version, {event.owner: "owner"})
    if cube is None:
        raise ValueError(f"{event.type_name} before CubeCreated on {event.stream_key}")
    if isinstance(event, CubeShared):
        return replace(cube, version=event.version, roles={**cube.roles, event.with_user: event.role})
    if isinstance(event, CubeAccessRevoked):
        return replace(cube, version=event.version,
                       roles={user: role for user, role in cube.roles.items() if user != event.from_user})
    return replace(cube, version=event.version)


def rebuild_cube(events: Iterable[Event]) -> Cube | None:
    cube: Cube | None = None
    for event in events:
        cube = evolve_cube(cube, event)
    return cube


def create_user(ctx: CommandContext, user_id: str) -> UserCreated:
    return UserCreated(**ctx.envelope(user_key(user_id), 1), user_id=user_id)


def create_cube(ctx: CommandContext, cube_id: str, name: str, owner: str) -> CubeCreated:
    return CubeCreated(**ctx.envelope(cube_key(cube_id), 1), cube_id=cube_id, name=name, owner=owner)


def share_cube(cube: Cube, ctx: CommandContext, with_user: str, role: str) -> CubeShared:
    """Only the owner shares; the owner's own role cannot be changed this way."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {ROLES}, not {role!r}")
    if not cube.can(ctx.actor, "owner"):
        raise AccessDenied(f"user {ctx.actor!r} is not the owner of cube {cube.cube_id}")
    if with_user == cube.owner:
        raise InvalidInput(f"user {with_user!r} already owns cube {cube.cube_id}")
    return CubeShared(**ctx.envelope(cube_key(cube.cube_id), cube.version + 1),
                      cube_id=cube.cube_id, with_user=with_user, role=role)


def revoke_access(cube: Cube, ctx: CommandContext, from_user: str, reason: str | None = None) -> CubeAccessRevoked:
    """Only the owner revokes; the owner's own role cannot be revoked, and a user without a
    role has nothing to revoke."""
    if not cube.can(ctx.actor, "owner"):
        raise AccessDenied(f"user {ctx.actor!r} is not the owner of cube {cube.cube_id}")
    if from_user == cube.owner:
        raise InvalidInput(f"user {from_user!r} owns cube {cube.cube_id}; an owner's role cannot be revoked")
    if cube.role_of(from_user) is None:
        raise InvalidTransition(f"user {from_user!r} has no role on cube {cube.cube_id} to revoke")
    return CubeAccessRevoked(**ctx.envelope(cube_key(cube.cube_id), cube.version + 1),
                             cube_id=cube.cube_id, from_user=from_user, reason=reason)
