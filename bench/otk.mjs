// One-time-key health figures for npm run bench, on the SDK versions that broke it (tests/sdk-versions/),
// each against its baseline without the guardian in the same run (long windows; the e2e tests run short
// ones):
//   * matrix-js-sdk 40.0.0's tight retry loop after a store loss: conflicting uploads at the server, and
//     the SDK's own retries answered locally (what the page absorbed)
//   * OTK inflation (js-sdk 42.1.0 + crypto-wasm 18.6.0) up to Synapse's cap: refused uploads at the server
import { busyPeer, startStack } from '../tests/support/scenarios.mjs';
import { inflationScenario, tightLoopScenario } from '../tests/support/otk-scenarios.mjs';

export async function otkFigures({ windowMs = 60_000 } = {}) {
  const stack = await startStack();
  const figures = [];
  const seconds = windowMs / 1000;
  try {
    const peer = await busyPeer(stack.hs, { perSecond: 2 });
    const off = await tightLoopScenario(stack, { guardian: 'off', windowMs, peer, prefix: 'btight' });
    await off.page.close();
    const on = await tightLoopScenario(stack, { guardian: 'npm', windowMs, peer, prefix: 'btight' });
    const local = on.guardian?.storm?.breaker?.localAnswers ?? 0;
    await on.page.close();
    figures.push({ name: `conflicting uploads at the server, matrix-js-sdk 40.0.0 tight loop, ${seconds} s`, value: on.conflicts, baseline: off.conflicts, unit: 'requests', goal: '≤ 1', ok: on.conflicts <= 1 });
    figures.push({ name: `matrix-js-sdk 40.0.0 retries answered locally, ${seconds} s`, value: local, unit: 'answers' });

    const inflOff = await inflationScenario(stack, { guardian: 'off', windowMs: windowMs + 30_000, prefix: 'binfl' });
    await inflOff.page.close();
    const inflOn = await inflationScenario(stack, { guardian: 'npm', windowMs: windowMs + 30_000, prefix: 'binfl' });
    await inflOn.page.close();
    figures.push({ name: `refused uploads at the server past the OTK cap, inflation (js-sdk 42.1.0 + wasm 18.6.0), ${seconds + 30} s`, value: inflOn.refusals, baseline: inflOff.refusals, unit: 'requests', goal: '≤ 1 per probe (1 min, doubling)', ok: inflOn.refusals <= 2 });
    figures.push({ name: 'one-time keys the server holds after inflation (guardian on; the pile-up is the SDK\'s)', value: inflOn.serverCount, baseline: inflOff.serverCount, unit: 'keys', goal: '≤ 500 (Synapse cap)', ok: inflOn.serverCount <= 500 });
  } finally {
    await stack.close();
  }
  return figures;
}
