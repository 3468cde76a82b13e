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
    SalesWeekly,
    Slot,
)
from models.content import ORDER_STATUSES, PLATFORMS, CustomerOrder, SocialPost
from models.llm import (
    CONTENT_STATUSES,
    GeneratedContent,
    LLMBatch,
    LLMConversation,
    LLMMessage,
    LLMRequest,
    PromptTemplate,
)
from models.users import ROLES, ApiToken, User

__all__ = [
    "CABINET_TYPES",
    "CONTENT_STATUSES",
    "ORDER_STATUSES",
    "PLANOGRAM_STATUSES",
    "PLATFORMS",
    "ROLES",
    "TEMPERATURES",
    "ApiToken",
    "CustomerOrder",
    "Device",
    "GeneratedContent",
    "LLMBatch",
    "LLMConversation",
    "LLMMessage",
    "LLMRequest",
    "PlanogramItem",
    "PlanogramVersion",
    "Product",
    "PromptTemplate",
    "Sale",
    "SalesWeekly",
    "Slot",
    "SocialPost",
    "User",
]
