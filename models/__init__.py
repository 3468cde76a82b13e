"""SQLAlchemy models; import from here so every table is registered with the metadata."""

from models.catalog import (
    CABINET_TYPES,
    PLANOGRAM_STATUSES,
    TEMPERATURES,
    Device,
    PlanogramItem,
    PlanogramVersion,
    Product,
    Sale,
    Slot,
)
from models.llm import CONTENT_STATUSES, GeneratedContent, LLMConversation, LLMMessage, LLMRequest, PromptTemplate
from models.users import ROLES, ApiToken, User

__all__ = [
    "CABINET_TYPES",
    "CONTENT_STATUSES",
    "PLANOGRAM_STATUSES",
    "ROLES",
    "TEMPERATURES",
    "ApiToken",
    "Device",
    "GeneratedContent",
    "LLMConversation",
    "LLMMessage",
    "LLMRequest",
    "PlanogramItem",
    "PlanogramVersion",
    "Product",
    "PromptTemplate",
    "Sale",
    "Slot",
    "User",
]
