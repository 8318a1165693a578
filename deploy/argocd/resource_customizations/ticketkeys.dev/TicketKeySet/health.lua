-- Argo CD health of a TicketKeySet (ticketkeys.dev), from the conditions the operator writes.
-- Lua 5.1 subset (Argo CD runs gopher-lua). Order: not yet observed -> Progressing;
-- Stalled or Degraded -> Degraded; spec.rotation.suspend -> Suspended; Ready -> Healthy;
-- anything else -> Progressing (the operator is still working: Reconciling/Progressing say what).
local hs = {}

local function condition(conditionType)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function text(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

if obj.status == nil or obj.status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the ticket-key operator to observe the TicketKeySet"
  return hs
end

local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end
if obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the ticket-key operator to observe generation " .. tostring(generation)
  return hs
end

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = "Stalled (" .. tostring(stalled.reason) .. "): " .. text(stalled, "no progress without a change")
  return hs
end

local degraded = condition("Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = tostring(degraded.reason) .. ": " .. text(degraded, "a rotation is stuck")
  return hs
end

local ready = condition("Ready")
if obj.spec ~= nil and obj.spec.rotation ~= nil and obj.spec.rotation.suspend == true then
  hs.status = "Suspended"
  hs.message = "Rotation is suspended (spec.rotation.suspend); " .. text(ready, "no ring reported yet")
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = text(ready, "every selected pod holds the current ring")
  return hs
end

local reconciling = condition("Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = tostring(reconciling.reason) .. ": " .. text(reconciling, "the operator is working")
  return hs
end

hs.status = "Progressing"
hs.message = text(ready, "Waiting for the ticket-key operator to report Ready")
return hs
