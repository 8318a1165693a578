// The two names the agent's mutual TLS rests on. A module of its own so light importers
// (the CLI's option defaults) need not load the protocol schemas.

/** Pods are dialled by IP; the agent's serving certificate carries this DNS name. */
export const AGENT_SERVER_NAME = 'agent.ticketkeys.dev';
/** Default identity (certificate CN) of the operator's client certificate. */
export const OPERATOR_IDENTITY = 'ticket-key-operator';
