// metav1.LabelSelector matching, as the API server evaluates it: matchLabels and
// matchExpressions (In, NotIn, Exists, DoesNotExist) are ANDed. An empty selector matches
// everything; a missing one (undefined) matches nothing, as for a Service without a selector.
import type { V1LabelSelector } from '@kubernetes/client-node';

export function matchesLabelSelector(selector: V1LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false;
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (have[key] !== value) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(have, req.key);
    const value = have[req.key];
    const values = req.values ?? [];
    switch (req.operator) {
      case 'In':
        if (!present || !values.includes(value as string)) return false;
        break;
      case 'NotIn':
        if (present && values.includes(value as string)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
      default:
        // An unknown operator cannot be evaluated; match nothing rather than everything.
        return false;
    }
  }
  return true;
}

/** The selector in the string form of list/watch `labelSelector` parameters. */
export function labelSelectorToString(selector: V1LabelSelector): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) parts.push(`${key}=${value}`);
  for (const req of selector.matchExpressions ?? []) {
    const values = [...(req.values ?? [])].sort().join(',');
    switch (req.operator) {
      case 'In':
        parts.push(`${req.key} in (${values})`);
        break;
      case 'NotIn':
        parts.push(`${req.key} notin (${values})`);
        break;
      case 'Exists':
        parts.push(req.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${req.key}`);
        break;
      default:
        throw new Error(`unknown label selector operator ${JSON.stringify(req.operator)}`);
    }
  }
  return parts.join(',');
}
