import factory
from factory.django import DjangoModelFactory

from accounts.models import User, mark_email_verified
from keys import keygen
from keys.models import ApiKey
from projects.models import Membership, Project, Question, Role

PASSWORD = "correct-horse-battery-staple"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = "Ada"

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        """Factory users have a confirmed address unless `UserFactory(verified=False)`."""
        if create and extracted is not False:
            mark_email_verified(obj)


class ProjectFactory(DjangoModelFactory):
    class Meta:
        model = Project
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")

    @factory.post_generation
    def owner(obj, create, extracted, **kwargs):
        """ProjectFactory(owner=user) makes `user` its owner."""
        if create and extracted is not None:
            Membership.objects.create(project=obj, user=extracted, role=Role.OWNER)

    @factory.post_generation
    def active_questions(obj, create, extracted, **kwargs):
        """ProjectFactory(active_questions=10) adds that many active questions."""
        if create and extracted:
            Question.objects.bulk_create(
                Question(project=obj, text=f"Question {i + 1}?", priority=i) for i in range(extracted)
            )


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.VIEWER


class QuestionFactory(DjangoModelFactory):
    class Meta:
        model = Question

    project = factory.SubFactory(ProjectFactory)
    text = factory.Sequence(lambda n: f"What is question number {n}?")
    priority = factory.Sequence(lambda n: n % 100)
    is_active = True


class ApiKeyFactory(DjangoModelFactory):
    """A key row made directly (no rules checked). The plaintext is kept on `.plaintext` for tests."""

    class Meta:
        model = ApiKey

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"key {n}")
    permissions = factory.LazyFunction(lambda: ["read"])
    key_hash = ""
    last4 = ""

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        plaintext = keygen.generate_key()
        kwargs["key_hash"] = keygen.hash_key(plaintext)
        kwargs["last4"] = plaintext[-4:]
        obj = super()._create(model_class, *args, **kwargs)
        obj.plaintext = plaintext
        return obj
