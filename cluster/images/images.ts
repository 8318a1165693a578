// The images the cluster runs, each a target of the repository's Dockerfile, tagged with full
// names (containerd looks `x/y:z` up as `docker.io/x/y:z`).
export type ImageName = 'tko' | 'ats-plugin' | 'ats';

export interface ImageSpec {
  name: ImageName;
  target: string;
  ref: string;
}

export const IMAGES: readonly ImageSpec[] = [
  { name: 'tko', target: 'tko', ref: 'docker.io/ticketkeys/tko:dev' },
  { name: 'ats-plugin', target: 'ats-plugin', ref: 'docker.io/ticketkeys/ats-plugin:dev' },
  { name: 'ats', target: 'ats', ref: 'docker.io/ticketkeys/ats:dev' },
];
