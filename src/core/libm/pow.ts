import { fma64 } from '../fused-multiply-add.js';
import { hexFloat as h } from './hex-float.js';
import { asdouble } from './bits.js';
import { EXP_TABLE } from './exp-table.js';

/**
 * `pow` (float64) as XLA:CPU computes it on x86-64 Linux: glibc's routine in the variant its ifunc
 * selects on CPUs with FMA (`__pow_fma`): sysdeps/ieee754/dbl-64/e_pow.c (Szabolcs Nagy, glibc 2.28
 * and later; worst error 0.52 ulp, so not always correctly rounded), built with `-mfma -mavx2`
 * (sysdeps/x86_64/fpu/multiarch/Makefile, `CFLAGS-e_pow-fma.c`), where `__FP_FAST_FMA` selects the
 * fused code paths and GCC contracts the remaining `a + b * c`: the `fma64` calls below follow the
 * disassembly of `__pow_fma` in glibc 2.36's libm.so.6 one for one. How XLA reaches `pow`: see
 * core/libm/powf.ts (the float64 case is the same lowering). Tables: e_pow_log_data.c and
 * e_exp_data.c, as stored in that binary. Checked against that libm on millions of inputs
 * (test/core/libm/pow.test.ts).
 *
 * The fused engine computes a float64 bias correction with it at every step, so a call allocates
 * nothing: the 64-bit integer arithmetic of the C code runs on 32-bit words (never BigInts), and the
 * doubles pass between the parts in registers (a Float64Array), never as arguments or return values
 * of calls V8 may not inline (each would box the double: a heap object per call).
 */

const LN2HI = h('0x1.62e42fefa38p-1');
const LN2LO = h('0x1.ef35793c7673p-45');
/** log1p(r) - r ~ A0 r^2 + ... + A6 r^8 (A0 = -1/2), as stored (e_pow_log_data.c). */
const [A0, A1, A2, A3, A4, A5, A6] = ['-0x1p-1', '-0x1.555555555556p-1', '0x1.0000000000006p-1', '0x1.999999959554ep-1', '-0x1.555555529a47ap-1', '-0x1.2495b9b4845e9p+0', '0x1.0002b8b263fc3p+0'].map(h);
/** [1/c, log(c), its tail] for 128 subintervals of [OFF, 2 OFF). */
const LOG_ENTRIES = [
  ['0x1.6ap+0', '-0x1.62c82f2b9c8p-2', '0x1.ab4242837568p-48'],
  ['0x1.68p+0', '-0x1.5d1bdbf5808p-2', '-0x1.ca508d8e0f72p-46'],
  ['0x1.66p+0', '-0x1.57677174558p-2', '-0x1.362a4d5b6506dp-45'],
  ['0x1.64p+0', '-0x1.51aad872df8p-2', '-0x1.684e49eb067d5p-49'],
  ['0x1.62p+0', '-0x1.4be5f957778p-2', '-0x1.41b6993293eep-47'],
  ['0x1.6p+0', '-0x1.4618bc21c6p-2', '0x1.3d82f484c84ccp-46'],
  ['0x1.5ep+0', '-0x1.404308686a8p-2', '0x1.c42f3ed820b3ap-50'],
  ['0x1.5cp+0', '-0x1.3a64c556948p-2', '0x1.0b1c68651946p-45'],
  ['0x1.5ap+0', '-0x1.347dd9a988p-2', '0x1.5594dd4c58092p-45'],
  ['0x1.58p+0', '-0x1.2e8e2bae12p-2', '0x1.67b1e99b72bd8p-45'],
  ['0x1.56p+0', '-0x1.2895a13de88p-2', '0x1.5ca14b6cfb03fp-46'],
  ['0x1.56p+0', '-0x1.2895a13de88p-2', '0x1.5ca14b6cfb03fp-46'],
  ['0x1.54p+0', '-0x1.22941fbcf78p-2', '-0x1.65a242853da76p-46'],
  ['0x1.52p+0', '-0x1.1c898c16998p-2', '-0x1.fafbc68e75404p-46'],
  ['0x1.5p+0', '-0x1.1675cababa8p-2', '0x1.f1fc63382a8fp-46'],
  ['0x1.4ep+0', '-0x1.1058bf9ae48p-2', '-0x1.6a8c4fd055a66p-45'],
  ['0x1.4cp+0', '-0x1.0a324e2739p-2', '-0x1.c6bee7ef4030ep-47'],
  ['0x1.4ap+0', '-0x1.0402594b4dp-2', '-0x1.036b89ef42d7fp-48'],
  ['0x1.4ap+0', '-0x1.0402594b4dp-2', '-0x1.036b89ef42d7fp-48'],
  ['0x1.48p+0', '-0x1.fb9186d5e4p-3', '0x1.d572aab993c87p-47'],
  ['0x1.46p+0', '-0x1.ef0adcbdc6p-3', '0x1.b26b79c86af24p-45'],
  ['0x1.44p+0', '-0x1.e27076e2afp-3', '-0x1.72f4f543fff1p-46'],
  ['0x1.42p+0', '-0x1.d5c216b4fcp-3', '0x1.1ba91bbca681bp-45'],
  ['0x1.4p+0', '-0x1.c8ff7c79aap-3', '0x1.7794f689f8434p-45'],
  ['0x1.4p+0', '-0x1.c8ff7c79aap-3', '0x1.7794f689f8434p-45'],
  ['0x1.3ep+0', '-0x1.bc286742d9p-3', '0x1.94eb0318bb78fp-46'],
  ['0x1.3cp+0', '-0x1.af3c94e80cp-3', '0x1.a4e633fcd9066p-52'],
  ['0x1.3ap+0', '-0x1.a23bc1fe2bp-3', '-0x1.58c64dc46c1eap-45'],
  ['0x1.3ap+0', '-0x1.a23bc1fe2bp-3', '-0x1.58c64dc46c1eap-45'],
  ['0x1.38p+0', '-0x1.9525a9cf45p-3', '-0x1.ad1d904c1d4e3p-45'],
  ['0x1.36p+0', '-0x1.87fa06520dp-3', '0x1.bbdbf7fdbfa09p-45'],
  ['0x1.34p+0', '-0x1.7ab890210ep-3', '0x1.bdb9072534a58p-45'],
  ['0x1.34p+0', '-0x1.7ab890210ep-3', '0x1.bdb9072534a58p-45'],
  ['0x1.32p+0', '-0x1.6d60fe719dp-3', '-0x1.0e46aa3b2e266p-46'],
  ['0x1.3p+0', '-0x1.5ff3070a79p-3', '-0x1.e9e439f105039p-46'],
  ['0x1.3p+0', '-0x1.5ff3070a79p-3', '-0x1.e9e439f105039p-46'],
  ['0x1.2ep+0', '-0x1.526e5e3a1bp-3', '-0x1.0de8b90075b8fp-45'],
  ['0x1.2cp+0', '-0x1.44d2b6ccb8p-3', '0x1.70cc16135783cp-46'],
  ['0x1.2cp+0', '-0x1.44d2b6ccb8p-3', '0x1.70cc16135783cp-46'],
  ['0x1.2ap+0', '-0x1.371fc201e9p-3', '0x1.178864d27543ap-48'],
  ['0x1.28p+0', '-0x1.29552f81ffp-3', '-0x1.48d301771c408p-45'],
  ['0x1.26p+0', '-0x1.1b72ad52f6p-3', '-0x1.e80a41811a396p-45'],
  ['0x1.26p+0', '-0x1.1b72ad52f6p-3', '-0x1.e80a41811a396p-45'],
  ['0x1.24p+0', '-0x1.0d77e7cd09p-3', '0x1.a699688e85bf4p-47'],
  ['0x1.24p+0', '-0x1.0d77e7cd09p-3', '0x1.a699688e85bf4p-47'],
  ['0x1.22p+0', '-0x1.fec9131dbep-4', '-0x1.575545ca333f2p-45'],
  ['0x1.2p+0', '-0x1.e27076e2bp-4', '0x1.a342c2af0003cp-45'],
  ['0x1.2p+0', '-0x1.e27076e2bp-4', '0x1.a342c2af0003cp-45'],
  ['0x1.1ep+0', '-0x1.c5e548f5bcp-4', '-0x1.d0c57585fbe06p-46'],
  ['0x1.1cp+0', '-0x1.a926d3a4aep-4', '0x1.53935e85baac8p-45'],
  ['0x1.1cp+0', '-0x1.a926d3a4aep-4', '0x1.53935e85baac8p-45'],
  ['0x1.1ap+0', '-0x1.8c345d631ap-4', '0x1.37c294d2f5668p-46'],
  ['0x1.1ap+0', '-0x1.8c345d631ap-4', '0x1.37c294d2f5668p-46'],
  ['0x1.18p+0', '-0x1.6f0d28ae56p-4', '-0x1.69737c93373dap-45'],
  ['0x1.16p+0', '-0x1.51b073f062p-4', '0x1.f025b61c65e57p-46'],
  ['0x1.16p+0', '-0x1.51b073f062p-4', '0x1.f025b61c65e57p-46'],
  ['0x1.14p+0', '-0x1.341d7961bep-4', '0x1.c5edaccf913dfp-45'],
  ['0x1.14p+0', '-0x1.341d7961bep-4', '0x1.c5edaccf913dfp-45'],
  ['0x1.12p+0', '-0x1.16536eea38p-4', '0x1.47c5e768fa309p-46'],
  ['0x1.1p+0', '-0x1.f0a30c0118p-5', '0x1.d599e83368e91p-45'],
  ['0x1.1p+0', '-0x1.f0a30c0118p-5', '0x1.d599e83368e91p-45'],
  ['0x1.0ep+0', '-0x1.b42dd71198p-5', '0x1.c827ae5d6704cp-46'],
  ['0x1.0ep+0', '-0x1.b42dd71198p-5', '0x1.c827ae5d6704cp-46'],
  ['0x1.0cp+0', '-0x1.77458f632cp-5', '-0x1.cfc4634f2a1eep-45'],
  ['0x1.0cp+0', '-0x1.77458f632cp-5', '-0x1.cfc4634f2a1eep-45'],
  ['0x1.0ap+0', '-0x1.39e87b9fecp-5', '0x1.502b7f526feaap-48'],
  ['0x1.0ap+0', '-0x1.39e87b9fecp-5', '0x1.502b7f526feaap-48'],
  ['0x1.08p+0', '-0x1.f829b0e78p-6', '-0x1.980267c7e09e4p-45'],
  ['0x1.08p+0', '-0x1.f829b0e78p-6', '-0x1.980267c7e09e4p-45'],
  ['0x1.06p+0', '-0x1.7b91b07d58p-6', '-0x1.88d5493faa639p-45'],
  ['0x1.04p+0', '-0x1.fc0a8b0fcp-7', '-0x1.f1e7cf6d3a69cp-50'],
  ['0x1.04p+0', '-0x1.fc0a8b0fcp-7', '-0x1.f1e7cf6d3a69cp-50'],
  ['0x1.02p+0', '-0x1.fe02a6b1p-8', '-0x1.9e23f0dda40e4p-46'],
  ['0x1.02p+0', '-0x1.fe02a6b1p-8', '-0x1.9e23f0dda40e4p-46'],
  ['0x1p+0', '0x0p+0', '0x0p+0'],
  ['0x1p+0', '0x0p+0', '0x0p+0'],
  ['0x1.fcp-1', '0x1.010157589p-7', '-0x1.0c76b999d2be8p-46'],
  ['0x1.f8p-1', '0x1.0205658938p-6', '-0x1.3dc5b06e2f7d2p-45'],
  ['0x1.f4p-1', '0x1.8492528c9p-6', '-0x1.aa0ba325a0c34p-45'],
  ['0x1.fp-1', '0x1.0415d89e74p-5', '0x1.111c05cf1d753p-47'],
  ['0x1.ecp-1', '0x1.466aed42ep-5', '-0x1.c167375bdfd28p-45'],
  ['0x1.e8p-1', '0x1.894aa149fcp-5', '-0x1.97995d05a267dp-46'],
  ['0x1.e4p-1', '0x1.ccb73cdddcp-5', '-0x1.a68f247d82807p-46'],
  ['0x1.e2p-1', '0x1.eea31c006cp-5', '-0x1.e113e4fc93b7bp-47'],
  ['0x1.dep-1', '0x1.1973bd1466p-4', '-0x1.5325d560d9e9bp-45'],
  ['0x1.dap-1', '0x1.3bdf5a7d1ep-4', '0x1.cc85ea5db4ed7p-45'],
  ['0x1.d6p-1', '0x1.5e95a4d97ap-4', '-0x1.c69063c5d1d1ep-45'],
  ['0x1.d4p-1', '0x1.700d30aeacp-4', '0x1.c1e8da99ded32p-49'],
  ['0x1.dp-1', '0x1.9335e5d594p-4', '0x1.3115c3abd47dap-45'],
  ['0x1.ccp-1', '0x1.b6ac88dad6p-4', '-0x1.390802bf768e5p-46'],
  ['0x1.cap-1', '0x1.c885801bc4p-4', '0x1.646d1c65aacd3p-45'],
  ['0x1.c6p-1', '0x1.ec739830a2p-4', '-0x1.dc068afe645ep-45'],
  ['0x1.c4p-1', '0x1.fe89139dbep-4', '-0x1.534d64fa10afdp-45'],
  ['0x1.cp-1', '0x1.1178e8227ep-3', '0x1.1ef78ce2d07f2p-45'],
  ['0x1.bep-1', '0x1.1aa2b7e23fp-3', '0x1.ca78e44389934p-45'],
  ['0x1.bap-1', '0x1.2d1610c868p-3', '0x1.39d6ccb81b4a1p-47'],
  ['0x1.b8p-1', '0x1.365fcb0159p-3', '0x1.62fa8234b7289p-51'],
  ['0x1.b4p-1', '0x1.4913d8333bp-3', '0x1.5837954fdb678p-45'],
  ['0x1.b2p-1', '0x1.527e5e4a1bp-3', '0x1.633e8e5697dc7p-45'],
  ['0x1.aep-1', '0x1.6574ebe8c1p-3', '0x1.9cf8b2c3c2e78p-46'],
  ['0x1.acp-1', '0x1.6f0128b757p-3', '-0x1.5118de59c21e1p-45'],
  ['0x1.aap-1', '0x1.7898d85445p-3', '-0x1.c661070914305p-46'],
  ['0x1.a6p-1', '0x1.8beafeb39p-3', '-0x1.73d54aae92cd1p-47'],
  ['0x1.a4p-1', '0x1.95a5adcf7p-3', '0x1.7f22858a0ff6fp-47'],
  ['0x1.ap-1', '0x1.a93ed3c8aep-3', '-0x1.8724350562169p-45'],
  ['0x1.9ep-1', '0x1.b31d8575bdp-3', '-0x1.c358d4eace1aap-47'],
  ['0x1.9cp-1', '0x1.bd087383bep-3', '-0x1.d4bc4595412b6p-45'],
  ['0x1.9ap-1', '0x1.c6ffbc6f01p-3', '-0x1.1ec72c5962bd2p-48'],
  ['0x1.96p-1', '0x1.db13db0d49p-3', '-0x1.aff2af715b035p-45'],
  ['0x1.94p-1', '0x1.e530effe71p-3', '0x1.212276041f43p-51'],
  ['0x1.92p-1', '0x1.ef5ade4ddp-3', '-0x1.a211565bb8e11p-51'],
  ['0x1.9p-1', '0x1.f991c6cb3bp-3', '0x1.bcbecca0cdf3p-46'],
  ['0x1.8cp-1', '0x1.07138604d58p-2', '0x1.89cdb16ed4e91p-48'],
  ['0x1.8ap-1', '0x1.0c42d67616p-2', '0x1.7188b163ceae9p-45'],
  ['0x1.88p-1', '0x1.1178e8227e8p-2', '-0x1.c210e63a5f01cp-45'],
  ['0x1.86p-1', '0x1.16b5ccbacf8p-2', '0x1.b9acdf7a51681p-45'],
  ['0x1.84p-1', '0x1.1bf99635a68p-2', '0x1.ca6ed5147bdb7p-45'],
  ['0x1.82p-1', '0x1.214456d0eb8p-2', '0x1.a87deba46baeap-47'],
  ['0x1.7ep-1', '0x1.2bef07cdc9p-2', '0x1.a9cfa4a5004f4p-45'],
  ['0x1.7cp-1', '0x1.314f1e1d36p-2', '-0x1.8e27ad3213cb8p-45'],
  ['0x1.7ap-1', '0x1.36b6776be1p-2', '0x1.16ecdb0f177c8p-46'],
  ['0x1.78p-1', '0x1.3c25277333p-2', '0x1.83b54b606bd5cp-46'],
  ['0x1.76p-1', '0x1.419b423d5e8p-2', '0x1.8e436ec90e09dp-47'],
  ['0x1.74p-1', '0x1.4718dc271c8p-2', '-0x1.f27ce0967d675p-45'],
  ['0x1.72p-1', '0x1.4c9e09e173p-2', '-0x1.e20891b0ad8a4p-45'],
  ['0x1.7p-1', '0x1.522ae0738ap-2', '0x1.ebe708164c759p-45'],
  ['0x1.6ep-1', '0x1.57bf753c8dp-2', '0x1.fadedee5d40efp-46'],
  ['0x1.6cp-1', '0x1.5d5bddf596p-2', '-0x1.a0b2a08a465dcp-47'],
].map(([invc, logc, logctail]) => [h(invc), h(logc), h(logctail)]);
/** The log table as doubles, [invc, logc, logctail] per entry. */
const LOG_TABLE = Float64Array.from(LOG_ENTRIES.flat());
/** The high word of OFF = 0x3fe6955500000000 (its low word is 0). */
const OFF_HI = 0x3fe69555;

const INV_LN2_N = h('0x1.71547652b82fep+7');
const NEG_LN2_HI_N = h('-0x1.62e42fefap-8');
const NEG_LN2_LO_N = h('-0x1.cf79abc9e3b3ap-47');
const [C2, C3, C4, C5] = ['0x1.ffffffffffdbdp-2', '0x1.555555555543cp-3', '0x1.55555cf172b91p-5', '0x1.1111167a4d017p-7'].map(h);
const SHIFT = h('0x1.8p+52');
/** glibc's SIGN_BIAS, 0x800 << 7: bit 18 of ki's low word. */
const SIGN_BIAS = 0x800 << 7;

/** e_exp_data.c's table: each entry's tail as a double, and the two words of its scale bits. */
const EXP_TAIL = Float64Array.from({ length: 128 }, (_, k) => asdouble(EXP_TABLE[2 * k]));
const EXP_SBITS_HI = Int32Array.from({ length: 128 }, (_, k) => Number(EXP_TABLE[2 * k + 1] >> 32n));
const EXP_SBITS_LO = Int32Array.from({ length: 128 }, (_, k) => Number(EXP_TABLE[2 * k + 1] & 0xffffffffn));

/** A scratch double and its two 32-bit words (big-endian: offset 0 holds the high word). */
const scratch = new DataView(new ArrayBuffer(8));
/**
 * The high 32 bits of a double's bits, as an int32 (a word above 2^31 as a uint32 would be a heap
 * number wherever it crosses a call: words are int32 throughout, compared unsigned with `>>> 0`).
 */
function highWord(x: number): number { scratch.setFloat64(0, x); return scratch.getInt32(0); }
/** The low 32 bits of a double's bits, as an int32. */
function lowWord(x: number): number { scratch.setFloat64(0, x); return scratch.getInt32(4); }
/** The double with these two words of bits (each taken modulo 2^32). */
function fromWords(hi: number, lo: number): number { scratch.setInt32(0, hi | 0); scratch.setInt32(4, lo | 0); return scratch.getFloat64(0); }

/** The routine's doubles (see the module comment), by index: constants first. */
const R = new Float64Array(64);
const RA1 = 0, RA2 = 1, RA3 = 2, RA4 = 3, RA5 = 4, RA6 = 5, RLN2HI = 6, RLN2LO = 7, RMINUS_ONE = 8, RINV_LN2_N = 9, RSHIFT = 10;
const RNEG_LN2_HI_N = 11, RNEG_LN2_LO_N = 12, RC2 = 13, RC3 = 14, RC4 = 15, RC5 = 16;
R.set([A1, A2, A3, A4, A5, A6, LN2HI, LN2LO, -1, INV_LN2_N, SHIFT, NEG_LN2_HI_N, NEG_LN2_LO_N, C2, C3, C4, C5]);
// The operands and the result.
const RX = 17, RY = 18, ROUT = 19;
// log_inline's values.
const RZ = 20, RINVC = 21, RK = 22, RLOGC = 23, RLOGCTAIL = 24, RR = 25, RT1 = 26, RLO1 = 27, RAR = 28, RNEG_AR2 = 29;
const RAR2 = 30, RAR3 = 31, RLO3 = 32, RI1 = 33, RI2 = 34, RINNER = 35, RP1 = 36, RPOLY = 37, RLOSUM = 38, RLO = 39;
// y * log(x) = ehi + elo.
const RHI = 40, RTAIL = 41, RNEG_EHI = 42, RE1 = 43, RELO = 44;
// exp_inline's values.
const REX = 45, RKD = 46, RER0 = 47, RER = 48, RER2 = 49, RER4 = 50, RQ1 = 51, RQ2 = 52, RQTAIL = 53, RQ3 = 54, RTMP = 55, RSCALE = 56, RSY = 57;

/**
 * The multiply-adds, as a program of register indices `[out, a, b, c]`: `R[out] = fma(R[a], R[b],
 * R[c])` in order (each line's comment is glibc's C). One loop runs them all ({@link runFmas}): the
 * emulated FMA then has one call site, which V8 inlines, where many would exceed its inlining budget
 * and box their operands.
 */
const FMAS = Uint8Array.from([
  // log_inline
  RR, RZ, RINVC, RMINUS_ONE, // r = fma (z, invc, -1.0)
  RT1, RK, RLN2HI, RLOGC, // t1 = kd * Ln2hi + logc
  RLO1, RK, RLN2LO, RLOGCTAIL, // lo1 = kd * Ln2lo + logctail
  RLO3, RAR, RR, RNEG_AR2, // lo3 = fma (ar, r, -ar2)
  RI1, RR, RA6, RA5, // A[5] + r * A[6]
  RI2, RR, RA4, RA3, // A[3] + r * A[4]
  RINNER, RAR2, RI1, RI2, // A[3] + r * A[4] + ar2 * (A[5] + r * A[6])
  RP1, RR, RA2, RA1, // A[1] + r * A[2]
  RPOLY, RAR2, RINNER, RP1, // A[1] + r * A[2] + ar2 * (...)
  RLO, RAR3, RPOLY, RLOSUM, // lo = lo1 + lo2 + lo3 + lo4 + ar * r2 * p
  // pow: elo = y * lo + fma (y, hi, -ehi)
  RE1, RY, RHI, RNEG_EHI,
  RELO, RY, RTAIL, RE1,
  // exp_inline
  RKD, REX, RINV_LN2_N, RSHIFT, // kd = eval_as_double (z + shift), z = InvLn2N * x
  RER0, RKD, RNEG_LN2_HI_N, REX, // r = x + kd * NegLn2hiN
  RER, RKD, RNEG_LN2_LO_N, RER0, // r = r + kd * NegLn2loN
  RQ1, RER, RC5, RC4, // C4 + r * C5
  RQ2, RER, RC3, RC2, // C2 + r * C3
  RQ3, RER2, RQ2, RQTAIL, // tail + r + r2 * (C2 + r * C3)
  RTMP, RER4, RQ1, RQ3, // tmp = ... + r2 * r2 * (C4 + r * C5)
  // scale + scale * tmp (specialcase's first case, and exp_inline's common return)
  RSY, RSCALE, RTMP, RSCALE,
]);
/** Where each part of {@link FMAS} begins. */
const F_LOG = 0, F_LOG_POLY = 3, F_LOG_LO = 9, F_ELO = 10, F_EXP_KD = 12, F_EXP_R = 13, F_EXP_POLY = 15, F_SCALE = 19, F_END = 20;

/** Runs multiply-adds `from` to `to` of {@link FMAS}. */
function runFmas(from: number, to: number): void {
  for (let k = from; k < to; k++) R[FMAS[4 * k]] = fma64(R[FMAS[4 * k + 1]], R[FMAS[4 * k + 2]], R[FMAS[4 * k + 3]]);
}

/** log(x) as R[RHI] + R[RTAIL], for the bits `ixHi:ixLo` of a positive normal (or normalized subnormal) x. */
function logInline(ixHi: number, ixLo: number): void {
  // tmp = ix - OFF (OFF's low word is 0: no borrow from the low word).
  const tmpHi = (ixHi - OFF_HI) | 0;
  const i = (tmpHi >>> 13) & 127; // (tmp >> (52 - LOG_TABLE_BITS)) % N
  const k = tmpHi >> 20; // (int64_t) tmp >> 52, arithmetic
  // iz = ix - (tmp & 0xfffULL << 52)
  R[RZ] = fromWords(ixHi - (tmpHi & 0xfff00000), ixLo);
  R[RK] = k;
  R[RINVC] = LOG_TABLE[3 * i];
  R[RLOGC] = LOG_TABLE[3 * i + 1];
  R[RLOGCTAIL] = LOG_TABLE[3 * i + 2];
  runFmas(F_LOG, F_LOG_POLY); // r, t1, lo1
  const r = R[RR], t1 = R[RT1];
  const t2 = t1 + r;
  const lo2 = t1 - t2 + r;
  const ar = A0 * r;
  const ar2 = r * ar;
  const ar3 = r * ar2;
  const hi = t2 + ar2;
  const lo4 = t2 - hi + ar2;
  R[RAR] = ar;
  R[RAR2] = ar2;
  R[RAR3] = ar3;
  R[RNEG_AR2] = -ar2;
  runFmas(F_LOG_POLY, F_LOG_LO); // lo3 and the polynomial
  R[RLOSUM] = R[RLO1] + lo2 + R[RLO3] + lo4;
  runFmas(F_LOG_LO, F_ELO); // lo
  const lo = R[RLO];
  const y = hi + lo;
  R[RHI] = y;
  R[RTAIL] = hi - y + lo;
}

/** R[ROUT] = sign * exp(R[RHI]... ): exp(x + xtail) for x = R[REX], xtail = R[RELO], negated when `signBias`. */
function expInline(signBias: number): void {
  const x = R[REX];
  let abstop = (highWord(x) >>> 20) & 0x7ff;
  if (((abstop - 0x3c9) >>> 0) >= 0x408 - 0x3c9) {
    if (((abstop - 0x3c9) >>> 0) >= 0x80000000) {
      // |x| tiny: the result is 1 + x (rounded), signed.
      const one = 1 + x;
      R[ROUT] = signBias !== 0 ? -one : one;
      return;
    }
    if (abstop >= 0x409) {
      const negative = signBias !== 0;
      if (x < 0) R[ROUT] = negative ? -0 : 0; // __math_uflow
      else R[ROUT] = negative ? -Infinity : Infinity; // __math_oflow
      return;
    }
    abstop = 0; // large |x|: handled by specialCase
  }
  runFmas(F_EXP_KD, F_EXP_R); // kd = z + shift
  const kiLo = lowWord(R[RKD]); // only ki's low 19 bits are used below
  R[RKD] -= SHIFT;
  runFmas(F_EXP_R, F_EXP_POLY); // r = x - kd * Ln2
  const r = R[RELO] + R[RER]; // r += xtail
  const idx = kiLo & 127;
  // top = (ki + sign_bias) << (52 - EXP_TABLE_BITS): bits 0-18 of the sum become the high word's bits 13-31.
  const topHi = ((kiLo + signBias) & 0x7ffff) << 13;
  const sbitsHi = (EXP_SBITS_HI[idx] + topHi) | 0, sbitsLo = EXP_SBITS_LO[idx];
  const r2 = r * r;
  R[RER] = r;
  R[RER2] = r2;
  R[RER4] = r2 * r2;
  R[RQTAIL] = EXP_TAIL[idx] + r;
  runFmas(F_EXP_POLY, F_SCALE); // tmp
  if (abstop === 0) {
    // glibc's `specialcase`: R[ROUT] = scale * (1 + tmp) where the scale's exponent over- or
    // underflowed. Written here rather than as a function: a call that V8 does not inline (its
    // inlining budget goes to the fmas above) runs in the interpreter, boxing every double.
    if ((kiLo & 0x80000000) === 0) {
      // k > 0: the exponent of scale might have overflowed by <= 460.
      scratch.setInt32(0, (sbitsHi - (1009 << 20)) | 0);
      scratch.setInt32(4, sbitsLo | 0);
      R[RSCALE] = scratch.getFloat64(0);
      runFmas(F_SCALE, F_END);
      R[ROUT] = R[RSY] * 2 ** 1009;
      return;
    }
    // k < 0: the exponent of scale might have underflowed by <= 1022 (sbits += 1022 << 52).
    const signedHi = (sbitsHi + (1022 << 20)) | 0;
    scratch.setInt32(0, signedHi);
    scratch.setInt32(4, sbitsLo | 0);
    const scale = scratch.getFloat64(0); // fromWords, spelled out: not inlined here, it would box its result
    const tmp = R[RTMP];
    // The product is used twice here, so GCC did not fuse it (the disassembly shows vmulsd, vaddsd).
    const product = scale * tmp;
    let y = scale + product;
    if (Math.abs(y) < 1) {
      const one = y < 0 ? -1 : 1;
      let lo = scale - y + product;
      const hi = one + y;
      lo = one - hi + y + lo;
      y = (hi + lo) - one;
      if (y === 0) y = signedHi < 0 ? -0 : 0;
    }
    R[ROUT] = 2 ** -1022 * y;
    return;
  }
  R[RSCALE] = fromWords(sbitsHi, sbitsLo);
  runFmas(F_SCALE, F_END);
  R[ROUT] = R[RSY];
}

/** 0 if the finite non-zero double with bits `hi:lo` is not an integer, 1 if odd, 2 if even. */
function checkint(hi: number, lo: number): number {
  const e = (hi >>> 20) & 0x7ff;
  if (e < 0x3ff) return 0;
  if (e > 0x3ff + 52) return 2;
  const b = 0x3ff + 52 - e; // the bit of 1 in the value's bits, in [0, 52]
  // iy & ((1 << b) - 1): the fraction bits.
  if (b >= 32 ? lo !== 0 || (hi & ((2 ** (b - 32)) - 1)) !== 0 : (lo & ((2 ** b) - 1)) !== 0) return 0;
  // iy & (1 << b): the units bit.
  if (b >= 32 ? (hi & (2 ** (b - 32))) !== 0 : (lo & (2 ** b)) !== 0) return 1;
  return 2;
}

/** The bits `hi:lo` are those of a zero, an infinity or a NaN (glibc's `zeroinfnan`: 2 i - 1 >= 2 inf - 1). */
function zeroinfnan(hi: number, lo: number): boolean {
  const abs = hi & 0x7fffffff;
  return (abs === 0 && lo === 0) || abs >= 0x7ff00000;
}

/** The 64-bit unsigned order of the bits `aHi:aLo` and `bHi:bLo` (int32 words): -1, 0 or 1. */
function compareBits(aHi: number, aLo: number, bHi: number, bLo: number): number {
  if (aHi !== bHi) return (aHi >>> 0) < (bHi >>> 0) ? -1 : 1;
  if (aLo !== bLo) return (aLo >>> 0) < (bLo >>> 0) ? -1 : 1;
  return 0;
}

/**
 * `pow(x, y)` for doubles, bit for bit as glibc's `__pow_fma` in round-to-nearest (C99 special
 * cases; see the module comment).
 *
 * @example
 * ```ts
 * import { pow } from 'optax-ts';
 * // glibc's pow is not always correctly rounded: 0.9^10 is one of the cases where it is.
 * console.log(pow(0.9, 10)); // 0.3486784401000001
 * ```
 */
export function pow(x: number, y: number): number {
  R[RX] = x;
  R[RY] = y;
  powRegisters();
  return R[ROUT];
}

/**
 * `out[at] = pow(out[at], y)`: the base read from `out[at]` and the result written there, so that
 * no double crosses the call (nothing is boxed, even where V8 does not inline it; `y` is an integer
 * count): the fused engine's per-step float64 bias correction.
 * @internal
 */
export function powInto(out: Float64Array, at: number, y: number): void {
  R[RX] = out[at];
  R[RY] = y;
  powRegisters();
  out[at] = R[ROUT];
}

/** `r[o] = pow(r[x], r[y])`, registers in and out (see powf.ts's `powfAt`). @internal */
export function powAt(r: Float64Array, x: number, y: number, o: number): void {
  R[RX] = r[x];
  R[RY] = r[y];
  powRegisters();
  r[o] = R[ROUT];
}

/** {@link pow} of R[RX] and R[RY], into R[ROUT]. */
function powRegisters(): void {
  const x = R[RX], y = R[RY];
  let signBias = 0;
  let ixHi = highWord(x), ixLo = lowWord(x);
  const iyHi = highWord(y), iyLo = lowWord(y);
  let topx = ixHi >>> 20;
  const topy = iyHi >>> 20;
  if (((topx - 1) >>> 0) >= 0x7ff - 1 || (((topy & 0x7ff) - 0x3be) >>> 0) >= 0x43e - 0x3be) {
    // Special cases: (x < 0x1p-126 or inf or nan) or (|y| < 0x1p-65 or |y| >= 0x1p63 or nan).
    if (zeroinfnan(iyHi, iyLo)) {
      const xAbsHi = ixHi & 0x7fffffff;
      if ((iyHi & 0x7fffffff) === 0 && iyLo === 0) { R[ROUT] = 1; return; } // y = ±0
      if (ixHi === 0x3ff00000 && ixLo === 0) { R[ROUT] = 1; return; } // x = 1
      if (x !== x || y !== y) { R[ROUT] = x + y; return; } // 2 ix > 2 inf || 2 iy > 2 inf
      if (xAbsHi === 0x3ff00000 && ixLo === 0) { R[ROUT] = 1; return; } // |x| = 1
      // (2 ix < 2 asuint64 (1.0)) == !(iy >> 63): 0
      if ((compareBits(xAbsHi, ixLo, 0x3ff00000, 0) < 0) === (iyHi >= 0)) { R[ROUT] = 0; return; }
      R[ROUT] = y * y;
      return;
    }
    if (zeroinfnan(ixHi, ixLo)) {
      let x2 = x * x;
      if (ixHi < 0 && checkint(iyHi, iyLo) === 1) x2 = -x2;
      R[ROUT] = iyHi < 0 ? 1 / x2 : x2;
      return;
    }
    // x and y are non-zero finite.
    if (ixHi < 0) {
      // Finite x < 0.
      const yint = checkint(iyHi, iyLo);
      if (yint === 0) { R[ROUT] = NaN; return; }
      if (yint === 1) signBias = SIGN_BIAS;
      ixHi &= 0x7fffffff;
      topx &= 0x7ff;
    }
    if ((((topy & 0x7ff) - 0x3be) >>> 0) >= 0x43e - 0x3be) {
      // Note: sign_bias == 0 here because y is not odd.
      if (ixHi === 0x3ff00000 && ixLo === 0) { R[ROUT] = 1; return; }
      const above = compareBits(ixHi, ixLo, 0x3ff00000, 0) > 0; // ix > asuint64 (1.0)
      // |y| is tiny, o = pow(x, y) for |x| near 1, or huge: an over- or underflow.
      if ((topy & 0x7ff) < 0x3be) { R[ROUT] = above ? 1 + y : 1 - y; return; }
      R[ROUT] = above === (topy < 0x800) ? Infinity : 0;
      return;
    }
    if (topx === 0) {
      // Normalize a subnormal x so its exponent becomes negative.
      const scaled = fromWords(ixHi, ixLo) * 2 ** 52;
      ixHi = (highWord(scaled) & 0x7fffffff) - (52 << 20);
      ixLo = lowWord(scaled);
    }
  }
  logInline(ixHi, ixLo);
  const ehi = y * R[RHI];
  R[RNEG_EHI] = -ehi;
  runFmas(F_ELO, F_EXP_KD); // elo
  R[REX] = ehi;
  expInline(signBias);
}

/**
 * Every branch of {@link powRegisters}, run at load: V8 optimizes a function for the branches it has
 * seen, and a step that first takes another one throws that code away; until it is optimized again,
 * every call allocates. Seen here first, no branch is new later (see powf's seedBranches).
 */
function seedBranches(): void {
  const out = new Float64Array(1);
  // Plain powers (bias corrections), underflow to a subnormal and to 0, overflow, a negative base with
  // odd and even exponents, a subnormal base, tiny and huge exponents, C99's special cases.
  const cases = [0.9, 3, 0.999, 1234, 0.9, 7000, 0.9, 7100, 0.9, 8000, 2, 1100, 10, 308.5, -0.9, 3, -0.9, 4, -0.9, 0.5, 5e-324, 2, 1e-310, 0.5,
    1.5, 1e-30, 1.5, 1e30, 0.5, 1e30, 1, 7, 0, 3, 0, -3, Infinity, 2, -Infinity, 3, 0.9, 0, 0.9, NaN, NaN, 1, 0.5, Infinity, 2, -Infinity, 1 + 2 ** -52, 2 ** 60];
  for (let rep = 0; rep < 64; rep++) for (let i = 0; i < cases.length; i += 2) { out[0] = cases[i]; powInto(out, 0, cases[i + 1]); }
}
seedBranches();
