import { fma64 } from '../fused-multiply-add.js';
import { hexFloat as h } from './hex-float.js';
import { MASK64, asdouble, asuint64 } from './bits.js';

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
 */

const LN2HI = h('0x1.62e42fefa38p-1');
const LN2LO = h('0x1.ef35793c7673p-45');
/** log1p(r) - r ~ A0 r^2 + ... + A6 r^8 (A0 = -1/2), as stored (e_pow_log_data.c). */
const [A0, A1, A2, A3, A4, A5, A6] = ['-0x1p-1', '-0x1.555555555556p-1', '0x1.0000000000006p-1', '0x1.999999959554ep-1', '-0x1.555555529a47ap-1', '-0x1.2495b9b4845e9p+0', '0x1.0002b8b263fc3p+0'].map(h);
/** [1/c, log(c), its tail] for 128 subintervals of [OFF, 2 OFF). */
const LOG_TABLE = [
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
].map(([invc, logc, logctail]) => ({ invc: h(invc), logc: h(logc), logctail: h(logctail) }));
const OFF = 0x3fe6955500000000n;

const INV_LN2_N = h('0x1.71547652b82fep+7');
const NEG_LN2_HI_N = h('-0x1.62e42fefap-8');
const NEG_LN2_LO_N = h('-0x1.cf79abc9e3b3ap-47');
const [C2, C3, C4, C5] = ['0x1.ffffffffffdbdp-2', '0x1.555555555543cp-3', '0x1.55555cf172b91p-5', '0x1.1111167a4d017p-7'].map(h);
const SHIFT = h('0x1.8p+52');
/** 2^(k/128): tail bits and scale bits minus k << 45, interleaved (e_exp_data.c). */
const EXP_TABLE = [
  0x0000000000000000n, 0x3ff0000000000000n, 0x3c9b3b4f1a88bf6en, 0x3feff63da9fb3335n,
  0xbc7160139cd8dc5dn, 0x3fefec9a3e778061n, 0xbc905e7a108766d1n, 0x3fefe315e86e7f85n,
  0x3c8cd2523567f613n, 0x3fefd9b0d3158574n, 0xbc8bce8023f98efan, 0x3fefd06b29ddf6den,
  0x3c60f74e61e6c861n, 0x3fefc74518759bc8n, 0x3c90a3e45b33d399n, 0x3fefbe3ecac6f383n,
  0x3c979aa65d837b6dn, 0x3fefb5586cf9890fn, 0x3c8eb51a92fdeffcn, 0x3fefac922b7247f7n,
  0x3c3ebe3d702f9cd1n, 0x3fefa3ec32d3d1a2n, 0xbc6a033489906e0bn, 0x3fef9b66affed31bn,
  0xbc9556522a2fbd0en, 0x3fef9301d0125b51n, 0xbc5080ef8c4eea55n, 0x3fef8abdc06c31ccn,
  0xbc91c923b9d5f416n, 0x3fef829aaea92de0n, 0x3c80d3e3e95c55afn, 0x3fef7a98c8a58e51n,
  0xbc801b15eaa59348n, 0x3fef72b83c7d517bn, 0xbc8f1ff055de323dn, 0x3fef6af9388c8dean,
  0x3c8b898c3f1353bfn, 0x3fef635beb6fcb75n, 0xbc96d99c7611eb26n, 0x3fef5be084045cd4n,
  0x3c9aecf73e3a2f60n, 0x3fef54873168b9aan, 0xbc8fe782cb86389dn, 0x3fef4d5022fcd91dn,
  0x3c8a6f4144a6c38dn, 0x3fef463b88628cd6n, 0x3c807a05b0e4047dn, 0x3fef3f49917ddc96n,
  0x3c968efde3a8a894n, 0x3fef387a6e756238n, 0x3c875e18f274487dn, 0x3fef31ce4fb2a63fn,
  0x3c80472b981fe7f2n, 0x3fef2b4565e27cddn, 0xbc96b87b3f71085en, 0x3fef24dfe1f56381n,
  0x3c82f7e16d09ab31n, 0x3fef1e9df51fdee1n, 0xbc3d219b1a6fbffan, 0x3fef187fd0dad990n,
  0x3c8b3782720c0ab4n, 0x3fef1285a6e4030bn, 0x3c6e149289cecb8fn, 0x3fef0cafa93e2f56n,
  0x3c834d754db0abb6n, 0x3fef06fe0a31b715n, 0x3c864201e2ac744cn, 0x3fef0170fc4cd831n,
  0x3c8fdd395dd3f84an, 0x3feefc08b26416ffn, 0xbc86a3803b8e5b04n, 0x3feef6c55f929ff1n,
  0xbc924aedcc4b5068n, 0x3feef1a7373aa9cbn, 0xbc9907f81b512d8en, 0x3feeecae6d05d866n,
  0xbc71d1e83e9436d2n, 0x3feee7db34e59ff7n, 0xbc991919b3ce1b15n, 0x3feee32dc313a8e5n,
  0x3c859f48a72a4c6dn, 0x3feedea64c123422n, 0xbc9312607a28698an, 0x3feeda4504ac801cn,
  0xbc58a78f4817895bn, 0x3feed60a21f72e2an, 0xbc7c2c9b67499a1bn, 0x3feed1f5d950a897n,
  0x3c4363ed60c2ac11n, 0x3feece086061892dn, 0x3c9666093b0664efn, 0x3feeca41ed1d0057n,
  0x3c6ecce1daa10379n, 0x3feec6a2b5c13cd0n, 0x3c93ff8e3f0f1230n, 0x3feec32af0d7d3den,
  0x3c7690cebb7aafb0n, 0x3feebfdad5362a27n, 0x3c931dbdeb54e077n, 0x3feebcb299fddd0dn,
  0xbc8f94340071a38en, 0x3feeb9b2769d2ca7n, 0xbc87deccdc93a349n, 0x3feeb6daa2cf6642n,
  0xbc78dec6bd0f385fn, 0x3feeb42b569d4f82n, 0xbc861246ec7b5cf6n, 0x3feeb1a4ca5d920fn,
  0x3c93350518fdd78en, 0x3feeaf4736b527dan, 0x3c7b98b72f8a9b05n, 0x3feead12d497c7fdn,
  0x3c9063e1e21c5409n, 0x3feeab07dd485429n, 0x3c34c7855019c6ean, 0x3feea9268a5946b7n,
  0x3c9432e62b64c035n, 0x3feea76f15ad2148n, 0xbc8ce44a6199769fn, 0x3feea5e1b976dc09n,
  0xbc8c33c53bef4da8n, 0x3feea47eb03a5585n, 0xbc845378892be9aen, 0x3feea34634ccc320n,
  0xbc93cedd78565858n, 0x3feea23882552225n, 0x3c5710aa807e1964n, 0x3feea155d44ca973n,
  0xbc93b3efbf5e2228n, 0x3feea09e667f3bcdn, 0xbc6a12ad8734b982n, 0x3feea012750bdabfn,
  0xbc6367efb86da9een, 0x3fee9fb23c651a2fn, 0xbc80dc3d54e08851n, 0x3fee9f7df9519484n,
  0xbc781f647e5a3ecfn, 0x3fee9f75e8ec5f74n, 0xbc86ee4ac08b7db0n, 0x3fee9f9a48a58174n,
  0xbc8619321e55e68an, 0x3fee9feb564267c9n, 0x3c909ccb5e09d4d3n, 0x3feea0694fde5d3fn,
  0xbc7b32dcb94da51dn, 0x3feea11473eb0187n, 0x3c94ecfd5467c06bn, 0x3feea1ed0130c132n,
  0x3c65ebe1abd66c55n, 0x3feea2f336cf4e62n, 0xbc88a1c52fb3cf42n, 0x3feea427543e1a12n,
  0xbc9369b6f13b3734n, 0x3feea589994cce13n, 0xbc805e843a19ff1en, 0x3feea71a4623c7adn,
  0xbc94d450d872576en, 0x3feea8d99b4492edn, 0x3c90ad675b0e8a00n, 0x3feeaac7d98a6699n,
  0x3c8db72fc1f0eab4n, 0x3feeace5422aa0dbn, 0xbc65b6609cc5e7ffn, 0x3feeaf3216b5448cn,
  0x3c7bf68359f35f44n, 0x3feeb1ae99157736n, 0xbc93091fa71e3d83n, 0x3feeb45b0b91ffc6n,
  0xbc5da9b88b6c1e29n, 0x3feeb737b0cdc5e5n, 0xbc6c23f97c90b959n, 0x3feeba44cbc8520fn,
  0xbc92434322f4f9aan, 0x3feebd829fde4e50n, 0xbc85ca6cd7668e4bn, 0x3feec0f170ca07ban,
  0x3c71affc2b91ce27n, 0x3feec49182a3f090n, 0x3c6dd235e10a73bbn, 0x3feec86319e32323n,
  0xbc87c50422622263n, 0x3feecc667b5de565n, 0x3c8b1c86e3e231d5n, 0x3feed09bec4a2d33n,
  0xbc91bbd1d3bcbb15n, 0x3feed503b23e255dn, 0x3c90cc319cee31d2n, 0x3feed99e1330b358n,
  0x3c8469846e735ab3n, 0x3feede6b5579fdbfn, 0xbc82dfcd978e9db4n, 0x3feee36bbfd3f37an,
  0x3c8c1a7792cb3387n, 0x3feee89f995ad3adn, 0xbc907b8f4ad1d9fan, 0x3feeee07298db666n,
  0xbc55c3d956dcaeban, 0x3feef3a2b84f15fbn, 0xbc90a40e3da6f640n, 0x3feef9728de5593an,
  0xbc68d6f438ad9334n, 0x3feeff76f2fb5e47n, 0xbc91eee26b588a35n, 0x3fef05b030a1064an,
  0x3c74ffd70a5fddcdn, 0x3fef0c1e904bc1d2n, 0xbc91bdfbfa9298acn, 0x3fef12c25bd71e09n,
  0x3c736eae30af0cb3n, 0x3fef199bdd85529cn, 0x3c8ee3325c9ffd94n, 0x3fef20ab5fffd07an,
  0x3c84e08fd10959acn, 0x3fef27f12e57d14bn, 0x3c63cdaf384e1a67n, 0x3fef2f6d9406e7b5n,
  0x3c676b2c6c921968n, 0x3fef3720dcef9069n, 0xbc808a1883ccb5d2n, 0x3fef3f0b555dc3fan,
  0xbc8fad5d3ffffa6fn, 0x3fef472d4a07897cn, 0xbc900dae3875a949n, 0x3fef4f87080d89f2n,
  0x3c74a385a63d07a7n, 0x3fef5818dcfba487n, 0xbc82919e2040220fn, 0x3fef60e316c98398n,
  0x3c8e5a50d5c192acn, 0x3fef69e603db3285n, 0x3c843a59ac016b4bn, 0x3fef7321f301b460n,
  0xbc82d52107b43e1fn, 0x3fef7c97337b9b5fn, 0xbc892ab93b470dc9n, 0x3fef864614f5a129n,
  0x3c74b604603a88d3n, 0x3fef902ee78b3ff6n, 0x3c83c5ec519d7271n, 0x3fef9a51fbc74c83n,
  0xbc8ff7128fd391f0n, 0x3fefa4afa2a490dan, 0xbc8dae98e223747dn, 0x3fefaf482d8e67f1n,
  0x3c8ec3bc41aa2008n, 0x3fefba1bee615a27n, 0x3c842b94c3a9eb32n, 0x3fefc52b376bba97n,
  0x3c8a64a931d185een, 0x3fefd0765b6e4540n, 0xbc8e37bae43be3edn, 0x3fefdbfdad9cbe14n,
  0x3c77893b4d91cd9dn, 0x3fefe7c1819e90d8n, 0x3c5305c14160cc89n, 0x3feff3c22b8f71f1n,
];

const SIGN_BIAS = 0x800n << 7n;
/** The top 12 bits (sign and exponent) of a double's bits. */
function top12(ix: bigint): number { return Number(ix >> 52n); }

/** log(x) as hi + tail, for the bits `ix` of a positive normal (or normalized subnormal) x. */
function logInline(ix: bigint): { hi: number; tail: number } {
  const tmp = (ix - OFF) & MASK64;
  const i = Number((tmp >> 45n) & 127n);
  const k = Number(BigInt.asIntN(64, tmp) >> 52n);
  const z = asdouble(ix - (tmp & (0xfffn << 52n)));
  const { invc, logc, logctail } = LOG_TABLE[i];
  const r = fma64(z, invc, -1);
  const t1 = fma64(k, LN2HI, logc);
  const t2 = t1 + r;
  const lo1 = fma64(k, LN2LO, logctail);
  const lo2 = t1 - t2 + r;
  const ar = A0 * r;
  const ar2 = r * ar;
  const ar3 = r * ar2;
  const hi = t2 + ar2;
  const lo3 = fma64(ar, r, -ar2);
  const lo4 = t2 - hi + ar2;
  // p = ar3 * (A1 + r A2 + ar2 (A3 + r A4 + ar2 (A5 + r A6))), its final product fused into lo.
  const inner = fma64(ar2, fma64(r, A6, A5), fma64(r, A4, A3));
  const poly = fma64(ar2, inner, fma64(r, A2, A1));
  const lo = fma64(ar3, poly, lo1 + lo2 + lo3 + lo4);
  const y = hi + lo;
  return { hi: y, tail: hi - y + lo };
}

/** glibc's `specialcase`: scale * (1 + tmp) where the scale's exponent over- or underflowed. */
function specialCase(tmp: number, sbits: bigint, ki: bigint): number {
  if ((ki & 0x80000000n) === 0n) {
    const scale = asdouble(sbits - (1009n << 52n));
    const y = fma64(scale, tmp, scale);
    return y * 2 ** 1009;
  }
  const signed = (sbits + (1022n << 52n)) & MASK64;
  const scale = asdouble(signed);
  // The product is used twice here, so GCC did not fuse it (the disassembly shows vmulsd, vaddsd).
  const product = scale * tmp;
  let y = scale + product;
  if (Math.abs(y) < 1) {
    const one = y < 0 ? -1 : 1;
    let lo = scale - y + product;
    const hi = one + y;
    lo = one - hi + y + lo;
    y = (hi + lo) - one;
    if (y === 0) y = (signed >> 63n) !== 0n ? -0 : 0;
  }
  return 2 ** -1022 * y;
}

/** sign * exp(x + xtail). */
function expInline(x: number, xtail: number, signBias: bigint): number {
  let abstop = top12(asuint64(x)) & 0x7ff;
  if (((abstop - 0x3c9) >>> 0) >= 0x408 - 0x3c9) {
    if (((abstop - 0x3c9) >>> 0) >= 0x80000000) {
      const one = 1 + x;
      return signBias ? -one : one;
    }
    if (abstop >= 0x409) {
      const negative = signBias !== 0n;
      if (x < 0) return negative ? -0 : 0; // __math_uflow
      return negative ? -Infinity : Infinity; // __math_oflow
    }
    abstop = 0; // large |x|: handled by specialCase
  }
  let kd = fma64(x, INV_LN2_N, SHIFT); // z = InvLn2N * x; kd = z + Shift, fused
  const ki = asuint64(kd);
  kd -= SHIFT;
  let r = fma64(kd, NEG_LN2_LO_N, fma64(kd, NEG_LN2_HI_N, x));
  r = xtail + r;
  const idx = Number(ki & 127n) * 2;
  const top = ((ki + signBias) << 45n) & MASK64;
  const tail = asdouble(EXP_TABLE[idx]);
  const sbits = (EXP_TABLE[idx + 1] + top) & MASK64;
  const r2 = r * r;
  const tmp = fma64(r2 * r2, fma64(r, C5, C4), fma64(r2, fma64(r, C3, C2), tail + r));
  if (abstop === 0) return specialCase(tmp, sbits, ki);
  const scale = asdouble(sbits);
  return fma64(scale, tmp, scale);
}

/** 0 if `iy` (the bits of a finite non-zero double) is not an integer, 1 if odd, 2 if even. */
function checkint(iy: bigint): number {
  const e = Number((iy >> 52n) & 0x7ffn);
  if (e < 0x3ff) return 0;
  if (e > 0x3ff + 52) return 2;
  if (iy & ((1n << BigInt(0x3ff + 52 - e)) - 1n)) return 0;
  if (iy & (1n << BigInt(0x3ff + 52 - e))) return 1;
  return 2;
}

const INF_BITS = 0x7ff0000000000000n;
const ONE_BITS = 0x3ff0000000000000n;
function zeroinfnan(i: bigint): boolean {
  return ((2n * i - 1n) & MASK64) >= 2n * INF_BITS - 1n;
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
  let signBias = 0n;
  let ix = asuint64(x);
  const iy = asuint64(y);
  let topx = top12(ix);
  const topy = top12(iy);
  if (((topx - 1) >>> 0) >= 0x7ff - 1 || (((topy & 0x7ff) - 0x3be) >>> 0) >= 0x43e - 0x3be) {
    if (zeroinfnan(iy)) {
      if (((2n * iy) & MASK64) === 0n) return 1;
      if (ix === ONE_BITS) return 1;
      if (((2n * ix) & MASK64) > 2n * INF_BITS || ((2n * iy) & MASK64) > 2n * INF_BITS) return x + y;
      if (((2n * ix) & MASK64) === 2n * ONE_BITS) return 1;
      if ((((2n * ix) & MASK64) < 2n * ONE_BITS) === !(iy >> 63n)) return 0;
      return y * y;
    }
    if (zeroinfnan(ix)) {
      let x2 = x * x;
      if (ix >> 63n && checkint(iy) === 1) x2 = -x2;
      return iy >> 63n ? 1 / x2 : x2;
    }
    // x and y are non-zero finite.
    if (ix >> 63n) {
      const yint = checkint(iy);
      if (yint === 0) return NaN;
      if (yint === 1) signBias = SIGN_BIAS;
      ix &= 0x7fffffffffffffffn;
      topx &= 0x7ff;
    }
    if ((((topy & 0x7ff) - 0x3be) >>> 0) >= 0x43e - 0x3be) {
      if (ix === ONE_BITS) return 1;
      if ((topy & 0x7ff) < 0x3be) return ix > ONE_BITS ? 1 + y : 1 - y;
      return (ix > ONE_BITS) === (topy < 0x800) ? Infinity : 0;
    }
    if (topx === 0) {
      // Normalize a subnormal x so its exponent becomes negative.
      ix = asuint64(asdouble(ix) * 2 ** 52) & 0x7fffffffffffffffn;
      ix = (ix - (52n << 52n)) & MASK64;
    }
  }
  const { hi, tail } = logInline(ix);
  const ehi = y * hi;
  const elo = fma64(y, tail, fma64(y, hi, -ehi));
  return expInline(ehi, elo, signBias);
}
