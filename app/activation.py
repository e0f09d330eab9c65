"""Old home of the activation functions, now ``app.campaigns.activation``.

Kept so ``from app import activation`` (tests, bench) goes on working; new code
imports ``app.campaigns``.
"""

from app.campaigns.activation import activate, finish, pause, populate, problems, resume
from app.windows import describe_windows

__all__ = ["activate", "describe_windows", "finish", "pause", "populate", "problems", "resume"]
