"""The base of every built-in policy's ``Params``: strict, frozen, unknown keys are errors.

The registry validates a spec's keys against a policy's ``Params`` and passes the
result to the policy's constructor as keyword arguments.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PolicyParams(BaseModel):
    """Parameters of one policy, validated from the keys of its config spec."""

    model_config = ConfigDict(extra="forbid", frozen=True)
