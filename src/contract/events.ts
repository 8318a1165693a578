// Kubernetes Event types (core/v1 Event.type): the core's event actions name one, the
// operator's Event recorder writes it. The API server accepts only these two.

export const EVENT_TYPES = ['Normal', 'Warning'] as const;
export type EventType = (typeof EVENT_TYPES)[number];
