"""The comparison endpoints: a bare Django view, and the peers built the usual DRF way.

The peers are what a Django team would write with Django REST framework and
djangorestframework-api-key, idiomatically and without tuning: `HasAPIKey` on every view, a
`ModelSerializer`, `LimitOffsetPagination` for the list. They serve the bench project's questions
(BENCH_PROJECT_ID, set by bench/bench.py after seeding: the DRF key has no project of its own).
"""

import os

from django.http import JsonResponse
from django.views.decorators.http import require_GET
from rest_framework import generics, serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.permissions import HasAPIKey

from projects.models import Question

BODY = {"ok": True, "id": "bench"}


def _project_id() -> int:
    return int(os.environ.get("BENCH_PROJECT_ID", "0"))


@require_GET
def baseline(request):
    """What Django itself costs for a small JSON answer (full middleware stack, no auth)."""
    return JsonResponse(BODY)


class DrfKeyView(APIView):
    """Peer of GET /api/v1/key. `Authorization: Api-Key <prefix>.<secret>`; one lookup by prefix, then a hash."""

    permission_classes = [HasAPIKey]

    def get(self, request):
        return Response(BODY)


class QuestionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Question
        fields = ["id", "text", "priority", "is_active", "created_at", "updated_at"]


class DrfQuestionList(generics.ListAPIView):
    """Peer of GET /api/v1/questions?limit=10: the project's questions, highest priority first."""

    permission_classes = [HasAPIKey]
    serializer_class = QuestionSerializer
    pagination_class = LimitOffsetPagination

    def get_queryset(self):
        return Question.objects.filter(project_id=_project_id()).order_by("-priority", "id")


class AnsweredSerializer(serializers.Serializer):
    answered = serializers.ListField(child=serializers.IntegerField(), required=False, default=list, max_length=10_000)


class DrfNextQuestion(APIView):
    """Peer of POST /api/v1/next-question: the same query, the same body."""

    permission_classes = [HasAPIKey]

    def post(self, request):
        data = AnsweredSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        question = (
            Question.objects.filter(project_id=_project_id(), is_active=True)
            .exclude(pk__in=data.validated_data["answered"])
            .order_by("-priority", "id")
            .first()
        )
        return Response({"question": QuestionSerializer(question).data if question else None})
