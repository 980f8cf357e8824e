"""The keys of a Sandbox (projects/sandbox.py): test keys.

- A Sandbox's keys are `nbq_test_` keys (keys/keygen.py: same length and checksum as `nbq_live_`),
  and every other project's keys are `nbq_live_` keys: the prefix is chosen here, from the project.
- A test key acts on its Sandbox only. It is a project key, so the API's rule for project keys
  already holds: another project's path answers 404 `not_found`.
- Personal (account) keys never reach a Sandbox: it cannot be chosen as their scope, "All my
  projects" leaves it out, and an account key naming a Sandbox's slug gets 404.
"""

from .keygen import LIVE_PREFIX, TEST_PREFIX

DEFAULT_KEY_NAME = "Sandbox key"


def prefix_for(project) -> str:
    """The prefix of a new key of `project` (None: an account key, always live)."""
    return TEST_PREFIX if project is not None and project.is_sandbox else LIVE_PREFIX


def usable_in_account_keys(projects):
    """`projects` without Sandboxes: no account key reaches a Sandbox."""
    return projects.filter(is_sandbox=False)


def default_key_name(project, taken_names) -> str:
    """The name the Generate dialog of a Sandbox starts with: "Sandbox key", or "Sandbox key 2", ...
    when an active key already has it."""
    taken = {name.lower() for name in taken_names}
    name, n = DEFAULT_KEY_NAME, 1
    while name.lower() in taken:
        n += 1
        name = f"{DEFAULT_KEY_NAME} {n}"
    return name
