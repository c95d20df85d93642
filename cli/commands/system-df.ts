import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.js';
import type { DiskUsageReport, DfSummary } from '../../core/system/df.js';

export class SystemDfCommand extends BaseCommand {
  static override paths = [['system', 'df']];

  static override usage = Command.Usage({
    category: 'System',
    description: 'show tsbox disk usage',
    details: `
      Shows what images, containers and volumes take on disk, in podman's table \`TYPE  TOTAL  ACTIVE  SIZE  RECLAIMABLE\`. Sizes are disk usage (as \`du\` counts it): a layer several images share is counted once. Active images are those containers were made from, active containers those running; reclaimable is what removing the rest would free.

      \`-v\` lists every image (with the size it shares with other images), container (its writable layer) and volume. \`--format\` takes \`json\` or a Go template over Type, Total, Active, Size, Reclaimable, RawSize and RawReclaimable; it cannot be combined with \`-v\`.
    `,
    examples: [
      ['Disk usage', '$0 system df'],
      ['Per image, container and volume', '$0 system df -v'],
      ['As JSON', '$0 system df --format json'],
    ],
  });

  verbose = Option.Boolean('-v,--verbose', false, { description: 'Show detailed information on space usage' });
  format = Option.String('--format', { description: "Pretty-print using a Go template, or 'json'" });

  async execute(): Promise<number> {
    const { TsboxError } = await import('../../core/errors.js');
    if (this.verbose && this.format !== undefined) throw new TsboxError('cannot combine --format and --verbose flags');
    const { openUserStore } = await import('../open-store.js');
    const { ContainerStore } = await import('../../core/runtime/containers.js');
    const { VolumeStore } = await import('../../core/volume/volumes.js');
    const { systemDiskUsage, summarize, dfSize, dfReclaimable } = await import('../../core/system/df.js');
    const format = await import('../format.js');
    const report = await systemDiskUsage({ images: await openUserStore(), containers: new ContainerStore(), volumes: new VolumeStore() });
    const out = this.context.stdout;
    if (this.verbose) {
      out.write(verboseText(report, format, dfSize));
      return 0;
    }
    const rows = summarize(report).map((s: DfSummary) => ({
      Type: s.Type,
      Total: s.Total,
      TotalCount: s.Total,
      Active: s.Active,
      RawSize: s.RawSize,
      RawReclaimable: s.RawReclaimable,
      Size: dfSize(s.RawSize),
      Reclaimable: dfReclaimable(s),
    }));
    if (this.format === 'json') out.write(format.formatJson(rows));
    else if (this.format !== undefined) out.write(format.formatTemplate(this.format, rows, HEADERS));
    else {
      out.write(format.renderTable([['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], ...rows.map((r) => [r.Type, String(r.Total), String(r.Active), r.Size, r.Reclaimable])]));
    }
    return 0;
  }
}

const HEADERS: Record<string, string> = {
  Type: 'TYPE',
  Total: 'TOTAL',
  TotalCount: 'TOTAL',
  Active: 'ACTIVE',
  Size: 'SIZE',
  Reclaimable: 'RECLAIMABLE',
  RawSize: 'SIZE',
  RawReclaimable: 'RECLAIMABLE',
};

/** podman's `system df -v`: three titled tables. */
function verboseText(report: DiskUsageReport, format: typeof import('../format.js'), size: (n: number) => string): string {
  const now = Date.now();
  const age = (iso: string) => (Number.isNaN(Date.parse(iso)) ? '' : format.humanDuration(Math.max(0, now - Date.parse(iso))));
  const images = report.images.map((i) => {
    const [repository, tag] = splitName(i.name);
    return [repository, tag, i.id.slice(0, 12), age(i.created), size(i.size), size(i.sharedSize), size(i.uniqueSize), String(i.containers)];
  });
  const containers = report.containers.map((c) => [
    c.id.slice(0, 12),
    c.imageId.slice(0, 12),
    c.command,
    String(c.localVolumes),
    size(c.size),
    age(c.created),
    c.status,
    c.name,
  ]);
  const volumes = report.volumes.map((v) => [v.name, String(v.links), size(v.size)]);
  return [
    'Images space usage:\n\n',
    format.renderTable([['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'], ...images]),
    '\nContainers space usage:\n\n',
    format.renderTable([['CONTAINER ID', 'IMAGE', 'COMMAND', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES'], ...containers]),
    '\nLocal Volumes space usage:\n\n',
    format.renderTable([['VOLUME NAME', 'LINKS', 'SIZE'], ...volumes]),
  ].join('');
}

/** 'docker.io/library/alpine:latest' -> ['docker.io/library/alpine', 'latest']; none -> <none>. */
function splitName(name: string | undefined): [string, string] {
  if (!name) return ['<none>', '<none>'];
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? [name.slice(0, colon), name.slice(colon + 1)] : [name, '<none>'];
}
