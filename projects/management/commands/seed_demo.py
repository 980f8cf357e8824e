from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User, mark_email_verified
from projects.models import Membership, Project, Question, Role

DEMO_EMAIL = "demo@nbq.example"
DEMO_PASSWORD = "demo-password-123"
DEMO_QUESTIONS = [
    "What is the capital of France?",
    "How many continents are there?",
    "What is the boiling point of water at sea level, in °C?",
    "Who wrote “Pride and Prejudice”?",
    "What is the largest planet in our solar system?",
    "What gas do plants absorb from the air?",
    "How many sides does a hexagon have?",
    "What is the chemical symbol for gold?",
    "Which ocean is the largest?",
    "What is the square root of 81?",
    "In which year did the first person walk on the Moon?",
    "What language has the most native speakers?",
]


class Command(BaseCommand):
    help = "Make sure the demo account (a superuser) and the project Demo with 12 active questions exist."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo creates a superuser with a published password: it runs only with DEBUG=1.")
        with transaction.atomic():
            user = User.objects.filter(email=DEMO_EMAIL).first()
            if user is None:
                user = User.objects.create_superuser(email=DEMO_EMAIL, password=DEMO_PASSWORD, first_name="Demo")
            else:
                user.is_staff = user.is_superuser = user.is_active = True
                user.set_password(DEMO_PASSWORD)
                user.save()
                mark_email_verified(user)
            project, _ = Project.objects.get_or_create(slug="demo", defaults={"name": "Demo", "created_by": user})
            Membership.objects.update_or_create(project=project, user=user, defaults={"role": Role.OWNER})
            existing = set(project.questions.values_list("text", flat=True))
            Question.objects.bulk_create(
                Question(project=project, text=text, priority=len(DEMO_QUESTIONS) - i)
                for i, text in enumerate(DEMO_QUESTIONS)
                if text not in existing
            )
            project.questions.filter(text__in=DEMO_QUESTIONS).update(is_active=True)
        self.stdout.write("Demo ready: the project “Demo”; the admin is at /admin/ with the same login.")
        self.stdout.write(f"Email: {DEMO_EMAIL}")
        self.stdout.write(f"Password: {DEMO_PASSWORD}")
