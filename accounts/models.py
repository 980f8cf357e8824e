from typing import ClassVar

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.db import models


def mark_email_verified(user) -> None:
    """Record `user.email` as a confirmed, primary address (allauth's EmailAddress)."""
    from allauth.account.models import EmailAddress

    EmailAddress.objects.update_or_create(
        user=user, email=user.email.lower(), defaults={"verified": True, "primary": True}
    )


class UserManager(BaseUserManager["User"]):
    """Users log in with their email address; there is no username."""

    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields):
        """`createsuperuser` and `seed_demo` come here: whoever runs them owns the address, so it
        is recorded as confirmed (a sign-up confirms its address by mail instead)."""
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        user = self._create_user(email, password, **extra_fields)
        mark_email_verified(user)
        return user

    def get_by_natural_key(self, email: str):  # type: ignore[override]  # the stubs allow None; Django never passes it
        # Exact match on the stored (lower-cased) address, as allauth's login lookup does:
        # `iexact` is Unicode-aware on PostgreSQL (`ſ` matches `s`) and would disagree with it.
        return self.get(email=email.lower())


class User(AbstractUser):
    username = None  # type: ignore[assignment]  # no username: the email address is the login
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    # The stubs type AbstractUser.objects as contrib.auth's UserManager (username-based); ours is email-only.
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email
