"""The comparison endpoints: bare Django views, and the peers written the usual DRF way.

The peers are what a Django team would write with Django REST framework and
djangorestframework-api-key, idiomatically and without tuning: `HasAPIKey` on every view, a
`ModelSerializer`, `LimitOffsetPagination` for the list. The bare views have no authentication at
all: what Django itself costs for a small JSON answer, and for the same 10 questions in one query.
"""

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.http import require_GET
from rest_framework import generics, serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.permissions import HasAPIKey

from .models import Question

BODY = {"ok": True, "id": "bench"}
FIELDS = ["id", "text", "priority", "is_active", "created_at", "updated_at"]


def _questions():
    return Question.objects.filter(project_id=settings.BENCH_PROJECT_ID).order_by("-priority", "id")


@require_GET
def baseline(request):
    """A small JSON answer, no authentication, no database."""
    return JsonResponse(BODY)


@require_GET
def bare_questions(request):
    """The project's first `limit` questions (10 by default), no authentication: one query, JsonResponse."""
    try:
        limit = min(max(int(request.GET.get("limit", 10)), 1), 200)
    except ValueError:
        limit = 10
    return JsonResponse({"items": list(_questions().values(*FIELDS)[:limit])})


class DrfKeyView(APIView):
    """Peer of GET /api/v1/key. `Authorization: Api-Key <prefix>.<secret>`; one lookup by prefix, then a hash."""

    permission_classes = [HasAPIKey]

    def get(self, request):
        return Response(BODY)


class QuestionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Question
        fields = FIELDS


class DrfQuestionList(generics.ListAPIView):
    """Peer of GET /api/v1/questions?limit=10: the project's questions, highest priority first."""

    permission_classes = [HasAPIKey]
    serializer_class = QuestionSerializer
    pagination_class = LimitOffsetPagination

    def get_queryset(self):
        return _questions()


class AnsweredSerializer(serializers.Serializer):
    answered = serializers.ListField(child=serializers.IntegerField(), required=False, default=list, max_length=10_000)


class DrfNextQuestion(APIView):
    """Peer of POST /api/v1/next-question: the same query, the same body."""

    permission_classes = [HasAPIKey]

    def post(self, request):
        data = AnsweredSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        question = _questions().filter(is_active=True).exclude(pk__in=data.validated_data["answered"]).first()
        return Response({"question": QuestionSerializer(question).data if question else None})
