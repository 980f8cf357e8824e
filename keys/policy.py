"""A project's key policy, applied to keys: THE rules, one function each (the console, the runtime
API, the admin and the CLI call these; the policy itself is `projects.models.KeyPolicy`, the
members' two-factor rule `projects.policy`).

- **Maximum key lifetime** (`lifetime_problem`, `expiry_rules_within`, `clamp_expiry`): a key made,
  rotated or given a new scope in a project may not outlive the maximum (no "never"). A personal
  key answers to every project its scope reaches.
- **Require allowed IP addresses** (`check_project_key`): a project key needs at least one.
- **Allowed permissions** (`check_project_key` when a key is made or edited; `permission_cap` at
  every API request, like the role cap of `api.acting`): what any key may use in the project.
- **Personal keys need approval** (`approval_state`, `request_approval`, `decide_approval`): a
  personal key acts in the project only once an owner or admin approved it there.
- Keys made before a rule are **Out of policy** (`out_of_policy_reasons`): they keep working until
  an owner revokes them (`revoke_out_of_policy`) or shortens their expiry (`shorten_expiry`). A
  personal key is, per project it reaches, for its holder to see (`personal_key_policy_reasons`).
- A change of the policy (`save_policy`) is one line per rule in the project's event log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from keys_console.errors import Refused
from keys_console.mail import send_mail_later
from projects.actors import Actor
from projects.events import record_event
from projects.invitations import neutralise
from projects.membership import manager_emails
from projects.models import KeyPolicy, Membership, Project, Role
from projects.models.event import EventKind
from projects.models.policy import LIFETIME_CHOICES, POLICY_PERMISSIONS
from projects.policy import has_two_factor, policy_of

from .errors import InvalidKeyRequest
from .models import ApiKey, ApprovalState, KeyApproval
from .models.api_key import PERMISSION_ORDER, ExpiryRule, authenticating_q
from .scope import account_key_reach, account_keys_reaching

assert list(POLICY_PERMISSIONS) == PERMISSION_ORDER, "projects.models.policy.POLICY_PERMISSIONS is out of date"

LIFETIMES = dict(LIFETIME_CHOICES)


class PolicyRefused(Refused):
    code, status = "key_policy", 403


def _words(permissions) -> str:
    return ", ".join(p for p in PERMISSION_ORDER if p in permissions) or "none"


# --- maximum key lifetime ---------------------------------------------------------------------
def reached_policies(*, project: Project | None = None, owner=None, all_projects=False, projects=None) -> list:
    """The key policies a key answers to: its project's, or for a personal key those of every
    project its scope reaches (its holder's memberships; a Sandbox is never in reach)."""
    if project is not None:
        return [policy_of(project)]
    rows = KeyPolicy.objects.filter(project__memberships__user=owner, project__is_sandbox=False).select_related(
        "project"
    )
    if not all_projects:
        rows = rows.filter(project__in=[p.pk for p in (projects or [])])
    return list(rows.order_by("project__name", "pk"))


def strictest_lifetime(policies) -> KeyPolicy | None:
    """The policy with the shortest maximum lifetime among `policies` (None: no maximum)."""
    limited = [p for p in policies if p.max_lifetime_days]
    return min(limited, key=lambda p: p.max_lifetime_days) if limited else None


def lifetime_sentence(policy: KeyPolicy) -> str:
    return (
        f"The key policy of {policy.project.name} allows keys of at most {policy.lifetime_label}: "
        "choose an expiration within it."
    )


def lifetime_problem(expires_at: datetime | None, policies, now: datetime | None = None) -> str | None:
    """THE maximum-lifetime rule: the sentence naming the policy a key expiring at `expires_at`
    (None: never) would break if made now, or None."""
    strictest = strictest_lifetime(policies)
    if strictest is None:
        return None
    now = now or timezone.now()
    if expires_at is None or expires_at > now + timedelta(days=strictest.max_lifetime_days):  # type: ignore[arg-type]
        return lifetime_sentence(strictest)
    return None


def expiry_rules_within(max_days: int | None) -> list[str]:
    """The expiration choices a dialog offers under a maximum lifetime (no "never"; a custom date
    is judged when it is chosen)."""
    if not max_days:
        return list(ExpiryRule.values)
    return [rule for rule in ExpiryRule.values if rule == ExpiryRule.DATE or (rule.isdigit() and int(rule) <= max_days)]


def clamp_expiry(expiry_rule: str, expires_at: datetime | None, policies, now: datetime) -> tuple[str, datetime | None]:
    """A rotation keeps its key's expiration rule unless the policy now allows less: then the
    successor gets the maximum lifetime."""
    if lifetime_problem(expires_at, policies, now) is None:
        return expiry_rule, expires_at
    days = strictest_lifetime(policies).max_lifetime_days  # type: ignore[union-attr]  # a problem means a maximum
    rule = str(days) if str(days) in ExpiryRule.values else ExpiryRule.DATE
    return rule, now + timedelta(days=days)  # type: ignore[arg-type]


# --- what a key of the project may hold -----------------------------------------------------------
def check_new_key(
    *,
    policies,
    project_key: bool,
    permissions,
    allowed_ips,
    expires_at: datetime | None,
    now: datetime | None = None,
    check_lifetime: bool = True,
) -> None:
    """THE policy check of a key being made or changed (its lifetime against every policy it
    answers to; a project key's permissions and allowed IP addresses against its project's).
    Raises InvalidKeyRequest naming the policy, on the field it concerns."""
    errors: dict[str | None, str] = {}
    if check_lifetime:
        problem = lifetime_problem(expires_at, policies, now)
        if problem:
            errors["expiration"] = problem
    if project_key:
        for policy in policies:
            cap = policy.permission_cap
            if cap is not None and set(permissions) - set(cap):
                errors["permissions"] = (
                    f"The key policy of {policy.project.name} allows only these permissions: {_words(cap)}."
                )
            if policy.require_allowed_ips and not allowed_ips:
                errors["allowed_ips"] = (
                    f"The key policy of {policy.project.name} requires allowed IP addresses: "
                    "add at least one address or range."
                )
    if errors:
        raise InvalidKeyRequest(errors=errors)


def permission_cap(project: Project) -> list[str] | None:
    """THE permission ceiling of a project at request time (None: every permission allowed). The
    project's `key_policy` should be loaded with it (`select_related`)."""
    return policy_of(project).permission_cap


# --- out of policy ----------------------------------------------------------------------------------
def out_of_policy_reasons(key: ApiKey, policy: KeyPolicy, now: datetime | None = None) -> list[str]:
    """Why a key made before the rules of `policy`'s project breaks them (empty: it does not). Such
    a key keeps working (its permissions capped at each request) until an owner acts. The allowed
    IP addresses rule is for project keys; a personal key answers to the other two in every project
    its scope reaches (`personal_key_policy_reasons`)."""
    if policy.is_default:
        return []
    now = now or timezone.now()
    reasons = []
    if policy.max_lifetime_days and (
        key.expires_at is None or key.expires_at > now + timedelta(days=policy.max_lifetime_days)
    ):
        reasons.append(
            f"never expires (the maximum key lifetime is {policy.lifetime_label})"
            if key.expires_at is None
            else f"expires later than the maximum key lifetime ({policy.lifetime_label} from now)"
        )
    if policy.require_allowed_ips and not key.is_account_key and not key.allowed_ips:
        reasons.append("has no allowed IP addresses, which the policy requires")
    cap = policy.permission_cap
    if cap is not None and set(key.permissions) - set(cap):
        reasons.append(f"holds {_words(set(key.permissions) - set(cap))}, which the policy does not allow (not usable)")
    return reasons


def personal_key_policy_reasons(key: ApiKey, policies, now: datetime | None = None) -> list[str]:
    """Why a personal key breaks the policies of the projects its scope reaches, each reason naming
    its project ("in Demo: never expires (…)"); empty: it breaks none. `policies`: its holder's
    (`reached_policies(owner=…, all_projects=True)`, read once for a whole list); those of projects
    outside the key's scope are left out here. Its holder sees them (Account → API keys): rotating
    brings the successor within every maximum lifetime (`clamp_expiry`)."""
    if not key.is_account_key:
        return []
    chosen = None if key.all_projects else {project.pk for project in key.scope_projects.all()}
    return [
        f"in {policy.project.name}: {reason}"
        for policy in policies
        if chosen is None or policy.project_id in chosen
        for reason in out_of_policy_reasons(key, policy, now)
    ]


def out_of_policy_keys(project: Project, policy: KeyPolicy | None = None, now=None) -> list[ApiKey]:
    """The project's keys that still authenticate and break its policy; each with `policy_reasons`."""
    policy = policy or policy_of(project)
    now = now or timezone.now()
    if policy.is_default:
        return []
    found = []
    for key in ApiKey.objects.filter(authenticating_q(now), project=project).order_by("-created_at", "-id"):
        key.policy_reasons = out_of_policy_reasons(key, policy, now)
        if key.policy_reasons:
            found.append(key)
    return found


def out_of_policy_personal_keys(project: Project, policy: KeyPolicy | None = None, now=None) -> list[ApiKey]:
    """The members' personal keys that reach the project now (`account_keys_reaching`, the reach
    rule) and break its policy, each with `policy_reasons` and its holder: one query. For the
    project to see: their holders rotate or revoke them; the approval and the permission cap are
    the project's levers."""
    policy = policy or policy_of(project)
    now = now or timezone.now()
    if policy.is_default:
        return []
    live = ApiKey.objects.filter(authenticating_q(now))
    found = []
    for key in (
        account_keys_reaching(project, live).select_related("owner").order_by("owner__email", "-created_at", "-id")
    ):
        key.policy_reasons = out_of_policy_reasons(key, policy, now)
        if key.policy_reasons:
            found.append(key)
    return found


def keys_outliving(project: Project, max_days: int | None, now=None) -> list[ApiKey]:
    """The project's live keys that expire later than `max_days` from now (or never)."""
    if not max_days:
        return []
    now = now or timezone.now()
    limit = now + timedelta(days=max_days)
    return list(
        ApiKey.objects.filter(authenticating_q(now), project=project).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=limit)
        )
    )


# --- saving the policy --------------------------------------------------------------------------
POLICY_FIELDS = (
    "max_lifetime_days",
    "require_allowed_ips",
    "allowed_permissions",
    "approval_required",
    "two_factor_required",
)


@dataclass
class PolicySaved:
    policy: KeyPolicy
    changed: list[str] = field(default_factory=list)  # the rules that changed
    out_of_policy: int = 0  # live keys that break the policy now


def clean_policy(
    *, project: Project, user, max_lifetime_days, require_allowed_ips, allowed_permissions, two_factor_required
) -> tuple[int | None, list[str]]:
    """THE validation of a key policy (the Settings tab and the admin show its errors)."""
    errors: dict[str | None, str] = {}
    if max_lifetime_days in ("", None):
        max_lifetime_days = None
    try:
        max_lifetime_days = None if max_lifetime_days is None else int(max_lifetime_days)
    except (TypeError, ValueError):
        max_lifetime_days = -1
    if max_lifetime_days not in LIFETIMES:
        errors["max_lifetime_days"] = "Choose a maximum key lifetime: " + ", ".join(LIFETIMES.values()) + "."
    chosen = [p for p in PERMISSION_ORDER if p in set(allowed_permissions or [])]
    if not chosen or set(allowed_permissions or []) - set(PERMISSION_ORDER):
        errors["allowed_permissions"] = "Allow at least one permission: " + ", ".join(PERMISSION_ORDER) + "."
    if two_factor_required and not policy_of(project).two_factor_required and not has_two_factor(user.pk):
        errors["two_factor_required"] = (
            "Turn on two-factor authentication for your own account first (Account → Two-factor "
            "authentication): only an owner who uses it can require it of everyone."
        )
    if errors:
        raise InvalidKeyRequest(errors=errors)
    return max_lifetime_days, chosen


def _change_details(name: str, before, after) -> dict:
    return {"rule": name, "value": after, "previous": before}


def save_policy(
    *,
    project: Project,
    actor: Actor,
    user,
    max_lifetime_days=None,
    require_allowed_ips: bool = False,
    allowed_permissions=PERMISSION_ORDER,
    approval_required: bool = False,
    two_factor_required: bool = False,
) -> PolicySaved:
    """Change the project's key policy (owners only). One event per rule that changed (kind
    `policy_changed`); `keys.policy_actions.shorten_expiry` then offers to bring longer-lived keys
    down to a new maximum. The runtime API's cached records of the keys it concerns are dropped (`api.invalidation`)."""
    if not Membership.objects.filter(project=project, user_id=user.pk, role=Role.OWNER).exists():
        raise PolicyRefused("Only the project's owner can change its key policy.")
    max_lifetime_days, allowed = clean_policy(
        project=project,
        user=user,
        max_lifetime_days=max_lifetime_days,
        require_allowed_ips=require_allowed_ips,
        allowed_permissions=allowed_permissions,
        two_factor_required=two_factor_required,
    )
    values = {
        "max_lifetime_days": max_lifetime_days,
        "require_allowed_ips": bool(require_allowed_ips),
        "allowed_permissions": allowed,
        "approval_required": bool(approval_required),
        "two_factor_required": bool(two_factor_required),
    }
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        policy = KeyPolicy.objects.select_for_update().filter(project=project).first() or KeyPolicy(project=project)
        before = {name: getattr(policy, name) for name in POLICY_FIELDS}
        changed = [name for name in POLICY_FIELDS if before[name] != values[name]]
        if changed:
            for name, value in values.items():
                setattr(policy, name, value)
            policy.updated_at, policy.updated_by = timezone.now(), user
            policy.save()  # api.invalidation drops the records of the keys it concerns
            for name in changed:
                record_event(
                    project=project,
                    kind=EventKind.POLICY_CHANGED,
                    actor=actor,
                    subject=project.name,
                    details=_change_details(name, before[name], values[name]),
                )
        result = PolicySaved(policy=policy, changed=changed)
        result.out_of_policy = len(out_of_policy_keys(project, policy))
    return result


# --- approval of personal keys -------------------------------------------------------------------
def approval_state(key: ApiKey, project: Project) -> str | None:
    """For a personal key in a project that asks for approval: "approved", "pending", "denied"
    or "none" (never asked); None when the project does not ask."""
    if not key.is_account_key or not policy_of(project).approval_required:
        return None
    state = KeyApproval.objects.filter(key=key, project=project).values_list("state", flat=True).first()
    return state or "none"


def request_approval(key: ApiKey, project: Project, *, actor: Actor | None = None) -> KeyApproval:
    """The key asks to act in `project` (made with it in scope, or first presented there): a
    pending request, logged, and ONE mail to the project's owners and admins. Asking again
    changes nothing."""
    approval, created = KeyApproval.objects.get_or_create(key=key, project=project)
    if created:
        _approval_event(
            key,
            project,
            EventKind.APPROVAL_REQUESTED,
            actor or Actor(user=key.owner, label=key.owner.email if key.owner else "api"),
            details={"permissions": key.sorted_permissions, "holder": key.owner.email if key.owner else ""},
        )
        _mail_approvers(key, project)  # a task, queued with the request (keys_console/mail.py)
    return approval


def _approval_event(key: ApiKey, project: Project, kind: str, actor: Actor, details: dict | None = None) -> None:
    """One line in the project's log that is also in the holder's Security log (as
    `keys.services.record_key_event` writes a personal key's event in a project)."""
    record_event(project=project, account=key.owner, key=key, kind=kind, actor=actor, details=details)


def _mail_approvers(key: ApiKey, project: Project) -> None:
    recipients = manager_emails(project.pk)
    if not recipients:
        return
    context = {
        "key_name": neutralise(key.name),
        "key_id": key.key_id,
        "holder": key.owner.email if key.owner else "",
        "permissions": _words(key.permissions),
        "project_name": neutralise(project.name),
        "project_slug": project.slug,
    }
    try:
        send_mail_later(
            render_to_string("keys/email/approval_subject.txt", context).strip(),
            render_to_string("keys/email/approval_body.txt", context),
            recipients,
        )
    except Exception:  # the request is logged in the project; a lost mail is not worth a 500
        import logging

        logging.getLogger("keys").exception("Could not enqueue the approval mail about %s", key.key_id)


def decide_approval(*, key: ApiKey, project: Project, actor: Actor, approve: bool) -> KeyApproval:
    """An owner or admin approves (or denies) a personal key for `project`; logged in the project
    and in the holder's Security log. The key's cached record is dropped: its next request sees it."""
    if not key.is_account_key:
        raise InvalidKeyRequest("Only personal keys are approved.")
    state = ApprovalState.APPROVED if approve else ApprovalState.DENIED
    with transaction.atomic():
        approval, _ = KeyApproval.objects.select_for_update().get_or_create(key=key, project=project)
        if approval.state != state:
            approval.state, approval.decided_at, approval.decided_by = state, timezone.now(), actor.user
            approval.save()
            _approval_event(key, project, EventKind.KEY_APPROVED if approve else EventKind.KEY_DENIED, actor)
    return approval


def approvals_of(project: Project, now=None):
    """The project's approval requests of personal keys that still authenticate and still reach it."""
    now = now or timezone.now()
    return (
        KeyApproval.objects.filter(project=project, key__owner__memberships__project=project)
        .filter(Q(key__state="active"), Q(key__stops_at__isnull=True) | Q(key__stops_at__gt=now))
        .filter(Q(key__expires_at__isnull=True) | Q(key__expires_at__gt=now))
        .select_related("key", "key__owner")
        .order_by("-requested_at", "-id")
    )


def carry_approvals(old: ApiKey, new: ApiKey) -> None:
    """Rotation keeps a key's approvals (the same lineage): the successor gets them."""
    KeyApproval.objects.bulk_create(
        [
            KeyApproval(
                key=new,
                project_id=a.project_id,
                state=a.state,
                requested_at=a.requested_at,
                decided_at=a.decided_at,
                decided_by_id=a.decided_by_id,
            )
            for a in KeyApproval.objects.filter(key=old)
        ],
        ignore_conflicts=True,
    )


def forget_approvals_outside(key: ApiKey, *, all_projects: bool, project_ids) -> None:
    """A scope change: approvals of projects the key no longer reaches are dropped, so adding a
    project back asks anew."""
    if all_projects:
        return
    KeyApproval.objects.filter(key=key).exclude(project_id__in=list(project_ids)).delete()


def ask_on_creation(key: ApiKey, actor: Actor) -> None:
    """A new personal key asks for approval in each project of its scope that requires it."""
    if not key.is_account_key:
        return
    # The projects the key reaches now (keys/scope.py: its scope among its holder's memberships).
    asking = Project.objects.filter(
        pk__in=account_key_reach(key).values("project_id"), key_policy__approval_required=True
    )
    for project in asking.order_by("name", "pk"):
        request_approval(key, project, actor=actor)


# --- what the runtime API needs of the policies an account key reaches ---------------------------
def account_key_facts(key: ApiKey, project_ids) -> dict[int, dict]:
    """Per project (pk) the policy facts the API's record of an account key carries: `cap` (the
    allowed permissions, when limited), `approval` (when asked: approved / pending / denied /
    none) and `two_factor` (True when the project requires 2FA and the holder has none). Projects
    with no rule are left out. At most three queries (none of the last two when not needed)."""
    policies = list(KeyPolicy.objects.filter(project_id__in=list(project_ids)))
    if not policies:
        return {}
    facts: dict[int, dict] = {}
    approvals: dict[int, str] = {}
    if any(p.approval_required for p in policies):
        approvals = dict(KeyApproval.objects.filter(key_id=key.pk).values_list("project_id", "state"))
    two_factor = None
    for policy in policies:
        entry: dict = {}
        if policy.permission_cap is not None:
            entry["cap"] = policy.permission_cap
        if policy.approval_required:
            entry["approval"] = approvals.get(policy.project_id, "none")
        if policy.two_factor_required:
            if two_factor is None:
                two_factor = has_two_factor(key.owner_id)
            if not two_factor:
                entry["two_factor"] = True
        if entry:
            facts[policy.project_id] = entry
    return facts
