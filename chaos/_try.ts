import { recordSessions } from './capture.js';
import { ChaosHub } from './hub.js';

const hub = await ChaosHub.start(JSON.parse(process.env.CFG ?? '{}'));
const t = Date.now();
try {
  const s = await recordSessions(hub);
  console.log('ok', s.length, Date.now() - t);
} catch (e) {
  console.log('fail', String(e));
  console.log(hub.process.output().slice(-3000));
}
await hub.stop();
