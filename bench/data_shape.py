"""The data both sides serve, so that every row compares the same work: one project, 24 questions
(priorities 0..23), of which the list rows return 10 and next-question skips the first three."""

QUESTIONS = 24
LIST_LIMIT = 10


def question_text(i: int) -> str:
    return f"Bench question {i}: what is {i} squared?"
