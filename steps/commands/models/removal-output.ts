// The human form of a removal plan and its result (cleanup --keep, delete).
import { formatBytes, renderTable } from '../../common/table';
import type { RemovalPlan, RemovalResult } from '../../registry/remove-versions';

export function describePlan(plan: RemovalPlan, mode: 'table' | 'plain'): string {
  const head = plan.remove.length
    ? `Dry run: would delete ${plan.remove.length} version(s) of '${plan.model}' and ${plan.objects} objects, ${plan.bytes} bytes (${formatBytes(plan.bytes)}). Pass --yes to delete.\n`
    : `Nothing to delete for '${plan.model}'.\n`;
  const table = plan.remove.length ? renderTable(plan.remove, [
    { header: 'Version', value: (r) => r.version, align: 'right' },
    { header: 'Created', value: (r) => r.created ?? '' },
    { header: 'Prefix', value: (r) => r.prefix },
    { header: 'Objects', value: (r) => (r.objects_kept_for ? `kept (used by ${r.objects_kept_for.join(', ')})` : String(r.objects)), align: 'right' },
    { header: 'Bytes', value: (r) => (r.objects_kept_for ? '0' : String(r.bytes)), align: 'right' },
  ], mode) : '';
  return head + table + plan.skipped.map((s) => `kept version ${s.version}: ${s.reason}\n`).join('');
}

export function describeResult(model: string, result: RemovalResult, mode: 'table' | 'plain'): string {
  const head = `Deleted ${result.removed.length} version(s) of '${model}' and ${result.bytes_deleted} bytes (${formatBytes(result.bytes_deleted)}) of objects.\n`;
  const table = result.removed.length ? renderTable(result.removed, [
    { header: 'Version', value: (r) => r.version, align: 'right' },
    { header: 'Prefix', value: (r) => r.prefix },
    { header: 'Objects deleted', value: (r) => (r.objects_kept_for ? `0 (kept${r.objects_kept_for.length ? ` for ${r.objects_kept_for.join(', ')}` : ''})` : String(r.objects_deleted)), align: 'right' },
    { header: 'Bytes', value: (r) => String(r.bytes_deleted), align: 'right' },
  ], mode) : '';
  return head + table + result.skipped.map((s) => `kept version ${s.version}: ${s.reason}\n`).join('');
}
