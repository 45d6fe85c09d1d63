// Test order for `npm test`: the cluster suite first. It is one file of 12+ minutes that mostly
// waits on pods, so it must start at once beside the other workers, not after them; otherwise
// jest's default order (earlier failures first, then longest known duration, then file size) can
// leave it for last on a fresh cache and add its whole length to the run.
const Sequencer = require('@jest/test-sequencer').default;

const { sep } = require('node:path');

const isCluster = (test) => test.path.includes(`${sep}test${sep}cluster${sep}`);

class ClusterFirstSequencer extends Sequencer {
  sort(tests) {
    const ordered = super.sort(tests);
    return [...ordered.filter(isCluster), ...ordered.filter((t) => !isCluster(t))];
  }
}

module.exports = ClusterFirstSequencer;
