import { fma64 } from '../fused-multiply-add.js';
import { hexFloat as h } from './hex-float.js';
import { asuint64 } from './bits.js';

/**
 * `cos` (float64) as XLA:CPU computes it on x86-64 Linux: glibc's routine in the variant its ifunc
 * selects on CPUs with FMA (`__cos_fma`): sysdeps/ieee754/dbl-64/s_sin.c (IBM Accurate Mathematical
 * Library; since glibc 2.28 without its slow correctly-rounding paths, so within about 0.52 ulp),
 * built with `-mfma -mavx2` (sysdeps/x86_64/fpu/multiarch/Makefile, `CFLAGS-s_sin-fma.c`). GCC
 * contracts its `a + b * c` into fused multiply-adds; the `fma64` calls below follow the disassembly of
 * `__cos_fma` in glibc 2.36's libm.so.6 one for one. How XLA reaches `cos`: see core/libm/cosf.ts.
 * Constants and the table of sin/cos at multiples of 1/128 (`__sincostab`, sincostab.c) as stored in
 * that binary. Checked against that libm on millions of inputs (test/core/libm/cos.test.ts).
 *
 * Arguments of magnitude 105414350 or more go through glibc's `__branred` (a 1024-bit reduction by
 * pi/2); there optax-ts reduces exactly with BigInts instead and feeds the same kernels, which agrees
 * with glibc wherever `__branred`'s double-double is the correctly rounded one.
 */

const BIG = h('0x1.8p+45');
const [SN3, SN5] = ['-0x1.5555555555515p-3', '0x1.11110e829872fp-7'].map(h);
const [CS2, CS4, CS6] = ['0x1p-1', '-0x1.5555555555535p-5', '0x1.6c16bedd9e239p-10'].map(h);
/** pi/2 as a double-double. */
const [HP0, HP1] = ['0x1.921fb54442d18p+0', '0x1.1a62633145c07p-54'].map(h);
const TAYLOR_LIMIT = h('0x1.020c49ba5e354p-3');
/** sin(x) - x ~ x^3 (S1 + S2 x^2 + ... + S5 x^8), the Taylor coefficients as stored. */
const [S1, S2, S3, S4, S5] = ['-0x1.5555555555555p-3', '0x1.1111111110ecep-7', '-0x1.a01a019db08b8p-13', '0x1.71de27b9a7ed9p-19', '-0x1.addffc2fcdf59p-26'].map(h);
/** 2/pi, the rounding shift, and pi/2 split in four (mp1 + mp2 = pp3 + pp4 parts of usncs.h). */
const HPINV = h('0x1.45f306dc9c883p-1');
const TOINT = h('0x1.8p+52');
const [MP1, MP2, PP3, PP4] = ['0x1.921fb58p+0', '-0x1.dde973cp-27', '-0x1.cb3b398p-55', '-0x1.d747f23e32ed7p-83'].map(h);
/** For i in [0, 110): sin(i/128) high and low, cos(i/128) high and low. */
const SINCOS_TABLE = Float64Array.from([
  '0x0p+0', '0x0p+0', '0x1p+0', '0x0p+0',
  '0x1.fffeaaaaeeeefp-8', '-0x1.e45e2ec67b77cp-62', '0x1.fffc000155552p-1', '0x1.f4a01a0196daep-55',
  '0x1.fffaaaaeeeed5p-7', '-0x1.2ab639a9f0777p-63', '0x1.fff000155549fp-1', '0x1.28a28a03a5ef3p-55',
  '0x1.7ff7001033255p-6', '0x1.efe2b51527336p-64', '0x1.ffdc006bff7e6p-1', '0x1.ae6dae86977bdp-55',
  '0x1.ffeaaaeeee86fp-6', '-0x1.cd406fb224ae2p-60', '0x1.ffc00155527d3p-1', '-0x1.3b54492d89b5bp-55',
  '0x1.3feb2b12d45d5p-5', '0x1.4ec54203d1c11p-60', '0x1.ff9c03414a7bap-1', '0x1.991f4be6c59bfp-57',
  '0x1.7fdc01032fba9p-5', '-0x1.599bdf46e997ap-59', '0x1.ff7006bfdf99fp-1', '-0x1.8b3b560648d5fp-56',
  '0x1.bfc6d78586dacp-5', '0x1.8e4fd03dbf236p-62', '0x1.ff3c0c8103a31p-1', '0x1.4856dbddc0e66p-56',
  '0x1.ffaaaeeed4edbp-5', '-0x1.2d16d32684b69p-59', '0x1.ff0015549f4d3p-1', '0x1.328387b99426fp-55',
  '0x1.1fc343d808befp-4', '-0x1.f3d32e6f3be4fp-58', '0x1.febc222a8ef9fp-1', '0x1.7934934f54c77p-58',
  '0x1.3facb12d1755bp-4', '-0x1.921915299468cp-58', '0x1.fe7034129ef6fp-1', '-0x1.cbf4337c96f97p-57',
  '0x1.5f911fd10b737p-4', '-0x1.0184f02be9102p-58', '0x1.fe1c4c3c873ebp-1', '-0x1.5a9c9057c4a02p-60',
  '0x1.7f701032550e4p-4', '0x1.afc2d1800501ap-60', '0x1.fdc06bf7e6b9bp-1', '0x1.31902b535f8dbp-55',
  '0x1.9f4902d55d1f9p-4', '0x1.2696d7eac1dc1p-58', '0x1.fd5c94b43ep-1', '-0x1.2e768cb4f92f9p-57',
  '0x1.bf1b78568391dp-4', '0x1.e91841dea4cc8p-58', '0x1.fcf0c800e99b1p-1', '0x1.ea3d786d186acp-57',
  '0x1.dee6f16c1cce6p-4', '-0x1.50f8e2fb71673p-59', '0x1.fc7d078d1bc88p-1', '0x1.075d2447db685p-55',
  '0x1.feaaeee86ee36p-4', '-0x1.afcb2bcc6f03bp-59', '0x1.fc015527d5bd3p-1', '0x1.b68f35094efb8p-55',
  '0x1.0f3378ddd71d1p-3', '0x1.d8468724f0f9ep-57', '0x1.fb7db2bfe0695p-1', '0x1.21dadf4f65ab1p-55',
  '0x1.1f0d3d7afceafp-3', '-0x1.6ef95099769a5p-57', '0x1.faf22263c4bd3p-1', '-0x1.52ace133a2769p-58',
  '0x1.2ee285e4ab88fp-3', '-0x1.e4d0f05dee058p-57', '0x1.fa5ea641c36f2p-1', '0x1.04da6ed17cc7cp-59',
  '0x1.3eb312c5d66cbp-3', '0x1.47d666b66cb91p-57', '0x1.f9c340a7cc428p-1', '0x1.c5b6b063b7462p-55',
  '0x1.4e7ea4dc5f27bp-3', '0x1.949db2ac072fcp-58', '0x1.f91ff40374d01p-1', '-0x1.7d03f4d3a9e4cp-57',
  '0x1.5e44fcfa126f3p-3', '-0x1.6f443063f89b6p-57', '0x1.f874c2e1eecf6p-1', '-0x1.c6514e1332b16p-55',
  '0x1.6e05dc05a4d4cp-3', '-0x1.32c5c8b81c94p-66', '0x1.f7c1afeffde24p-1', '-0x1.8f55bc47540b1p-56',
  '0x1.7dc102fbaf2b5p-3', '0x1.5ab50e23c97c3p-59', '0x1.f706bdf9ece1cp-1', '-0x1.698c80c36dcb4p-55',
  '0x1.8d7632efaa944p-3', '-0x1.20fa262cbb953p-57', '0x1.f643efeb82acdp-1', '0x1.6b00ac1fe28acp-56',
  '0x1.9d252d0cec312p-3', '0x1.9c43d80b1137dp-58', '0x1.f57948cff6797p-1', '0x1.e3a0d3e03b1d5p-57',
  '0x1.accdb297a0765p-3', '-0x1.9883b57d6cdebp-58', '0x1.f4a6cbd1e3a79p-1', '0x1.13df0edaebb57p-55',
  '0x1.bc6f84edc6199p-3', '0x1.9c1a56a7b0cabp-57', '0x1.f3cc7c3b3d16ep-1', '-0x1.21a3ad28a3494p-57',
  '0x1.cc0a6588289a3p-3', '-0x1.868d09bc87c6bp-57', '0x1.f2ea5d753ffedp-1', '0x1.cc4215f56d583p-55',
  '0x1.db9e15fb5a5dp-3', '-0x1.32e20d6cc6fc2p-57', '0x1.f20073086649fp-1', '0x1.b940416c1984bp-56',
  '0x1.eb2a57f8ae5a3p-3', '-0x1.0be06af572cebp-57', '0x1.f10ec09c5873bp-1', '0x1.d9072762c1283p-55',
  '0x1.faaeed4f31577p-3', '-0x1.15d88508e32b8p-57', '0x1.f01549f7deea1p-1', '0x1.d3c1e99e5cafdp-55',
  '0x1.0515cbf65155cp-2', '-0x1.9b8c29dfd8ec8p-56', '0x1.ef141300d2f26p-1', '-0x1.2aa1b08ded372p-55',
  '0x1.0cd00cef36436p-2', '-0x1.9fb0a0c93e2b5p-56', '0x1.ee0b1fbc0f11cp-1', '-0x1.bfd2380bbc3b1p-59',
  '0x1.14861aa94ddebp-2', '-0x1.be881b5b615a4p-57', '0x1.ecfa744d5efa1p-1', '-0x1.56d0a4af541dp-58',
  '0x1.1c37d64c6b876p-2', '0x1.46076fe0dcff5p-56', '0x1.ebe214f76efa8p-1', '-0x1.02f9f12ba543ep-55',
  '0x1.23e52111aaf36p-2', '-0x1.4f080334eff18p-56', '0x1.eac2061bbaf4fp-1', '0x1.2c1d53e94658dp-57',
  '0x1.2b8ddc43eb49fp-2', '0x1.1553899f2d807p-57', '0x1.e99a4c3a7cd83p-1', '-0x1.2264b1bc53ce8p-55',
  '0x1.3331e94049f87p-2', '0x1.e0cb6b40c302cp-56', '0x1.e86aebf29a9edp-1', '0x1.9397afdbb58a7p-55',
  '0x1.3ad129769d3d8p-2', '0x1.03d5504878398p-63', '0x1.e733ea0193d4p-1', '-0x1.6428b3546ce13p-55',
  '0x1.426b7e69ee697p-2', '-0x1.f09c75705c59fp-56', '0x1.e5f54b436e9dp-1', '0x1.7eb0fd02fc8bcp-55',
  '0x1.4a00c9b0f3d2p-2', '0x1.823ba6bb08eadp-56', '0x1.e4af14b2a449cp-1', '-0x1.68ca02e8a6833p-55',
  '0x1.5190ecf68a77ap-2', '0x1.b357155eef0f3p-56', '0x1.e3614b680d6a5p-1', '-0x1.27793aa015237p-56',
  '0x1.591bc9fa2f597p-2', '0x1.7c74bac3fe0cbp-57', '0x1.e20bf49acd6c1p-1', '-0x1.660aec7ef636cp-58',
  '0x1.60a1429078775p-2', '0x1.b1fd80ba89133p-58', '0x1.e0af15a03dbcep-1', '0x1.fe8e702771ae6p-58',
  '0x1.682138a38d7f7p-2', '-0x1.d889202444aadp-56', '0x1.df4ab3ebd875ep-1', '-0x1.e2d8a7e6736c4p-55',
  '0x1.6f9b8e33a0255p-2', '0x1.42bc14ee9da0dp-56', '0x1.ddded50f228d6p-1', '-0x1.e80c8d42ba2bfp-57',
  '0x1.7710255764214p-2', '-0x1.6ead7314bb6cep-57', '0x1.dc6b7eb995912p-1', '0x1.4b364776dcd35p-58',
  '0x1.7e7ee03c86d4ep-2', '-0x1.b63bcdabf5af2p-56', '0x1.daf0b6b888e83p-1', '0x1.a249e2b5e5ceap-55',
  '0x1.85e7a12826949p-2', '0x1.8a40e9b5facep-56', '0x1.d96e82f71a9dcp-1', '0x1.ff61bd5d2039dp-55',
  '0x1.8d4a4a774992fp-2', '0x1.44a02ea766326p-56', '0x1.d7e4e97e17b4ap-1', '-0x1.3b770352bed94p-57',
  '0x1.94a6be9f546c5p-2', '-0x1.69ce13e683f58p-56', '0x1.d653f073e404p-1', '-0x1.76236434bec37p-55',
  '0x1.9bfce02e8051p-2', '0x1.09e39a320b0a4p-56', '0x1.d4bb9e1c619ep-1', '0x1.f34bb77858f61p-55',
  '0x1.a34c91cc50ccap-2', '-0x1.a310e3b50cecdp-58', '0x1.d31bf8d8d7c06p-1', '0x1.e60dd3089cbddp-56',
  '0x1.aa95b63a09277p-2', '-0x1.6293eb13c0381p-57', '0x1.d1750727d94fp-1', '0x1.0d52b1ec1a48ep-55',
  '0x1.b1d8305321617p-2', '-0x1.ae242cb99f519p-56', '0x1.cfc6cfa52ad9fp-1', '0x1.8b5b5508f2a0dp-55',
  '0x1.b913e30dbac43p-2', '-0x1.e38ad2f6c3ff1p-56', '0x1.ce115909a82e5p-1', '0x1.1f139bb31109ap-55',
  '0x1.c048b17b140a3p-2', '0x1.19fe6757e9fa7p-57', '0x1.cc54aa2b2972ep-1', '0x1.4ee162ba83a98p-57',
  '0x1.c7767ec7fd19ep-2', '-0x1.eb14d1a3d5826p-58', '0x1.ca90c9fc67d0bp-1', '-0x1.46a81485e3462p-57',
  '0x1.ce9d2e3d4a51fp-2', '-0x1.2fc8a12dae298p-57', '0x1.c8c5bf8ce1a84p-1', '0x1.ab3d1a1590123p-56',
  '0x1.d5bca34047661p-2', '0x1.28a44a75fc29cp-56', '0x1.c6f39208be53bp-1', '-0x1.741dbfbaadb42p-55',
  '0x1.dcd4c15329c9ap-2', '0x1.0d4c6e171fd9ap-56', '0x1.c51a48b8b175ep-1', '-0x1.1bbb43b9aa88p-57',
  '0x1.e3e56c1582a69p-2', '-0x1.0a4821099f88fp-58', '0x1.c339eb01ddd81p-1', '-0x1.caaf5ee82c5cp-55',
  '0x1.eaee8744b05fp-2', '-0x1.789b43c9b027dp-58', '0x1.c1528065b7d5p-1', '-0x1.892111312e828p-55',
  '0x1.f1eff6bc4f97bp-2', '0x1.17212f8a7525cp-56', '0x1.bf641081e7536p-1', '0x1.b7bd71628a9a1p-55',
  '0x1.f8e99e76abc97p-2', '0x1.9d950af2d00a3p-58', '0x1.bd6ea310294f5p-1', '0x1.31bbcc88c109dp-56',
  '0x1.ffdb628d2f57ap-2', '0x1.f4a992e905b6ap-57', '0x1.bb723fe630f32p-1', '0x1.72bd2452d0a39p-56',
  '0x1.0362939c69955p-1', '-0x1.2d8cd78397b01p-55', '0x1.b96eeef58840ep-1', '0x1.45a3cc78fadep-58',
  '0x1.06d3686946e5bp-1', '0x1.3f5ae4538ff1bp-55', '0x1.b764b84b704c2p-1', '-0x1.f5848c21b389bp-55',
  '0x1.0a4021e9e1001p-1', '-0x1.6f643a13914f6p-55', '0x1.b553a410c104ep-1', '0x1.8ff7947027a16p-58',
  '0x1.0da8b26b5672ep-1', '-0x1.a58def0bee909p-55', '0x1.b33bba89c8948p-1', '0x1.ea6a51d1f6ca9p-55',
  '0x1.110d0c4b69c3bp-1', '0x1.d918998809981p-55', '0x1.b11d04162a4c6p-1', '0x1.1dd561efbc0c2p-56',
  '0x1.146d21f8b7f82p-1', '0x1.bf9535e2739a8p-56', '0x1.aef78930bd275p-1', '-0x1.f836279746f94p-56',
  '0x1.17c8e5f2eedbp-1', '0x1.35e57102e2488p-57', '0x1.accb526f69de5p-1', '0x1.8fb6a8dd6b6ccp-55',
  '0x1.1b204acb02fddp-1', '-0x1.f190c70cbb5ffp-58', '0x1.aa98688308913p-1', '-0x1.b83d607cd507p-63',
  '0x1.1e7343236574cp-1', '0x1.22a3fa4f41d5ap-56', '0x1.a85ed4373e02dp-1', '0x1.9be06385ec792p-57',
  '0x1.21c1c1b0394cfp-1', '0x1.e5b324b23aa31p-58', '0x1.a61e9e72586afp-1', '0x1.58330e2fd453fp-55',
  '0x1.250bb93788bbbp-1', '0x1.ea3d02457bccep-56', '0x1.a3d7d0352bdcfp-1', '-0x1.68dbaeca19669p-55',
  '0x1.28511c917a067p-1', '-0x1.01df1d9a16b7p-55', '0x1.a18a729aee445p-1', '0x1.95e25736c0358p-60',
  '0x1.2b91dea88421ep-1', '-0x1.fa371db216abp-55', '0x1.9f368ed912f85p-1', '-0x1.1d200c5791606p-55',
  '0x1.2ecdf279a3082p-1', '0x1.d3557e0e7e37ep-55', '0x1.9cdc2e3f25e5cp-1', '0x1.3f99112993f62p-55',
  '0x1.32054b148bc4fp-1', '0x1.f6b42095a135bp-55', '0x1.9a7b5a36a6514p-1', '0x1.722cfcc9fa7a9p-55',
  '0x1.3537db9be0367p-1', '0x1.b327e7af040fp-57', '0x1.98141c42e131p-1', '0x1.d1ff80488f08dp-55',
  '0x1.386597456282bp-1', '-0x1.10fada93b07a8p-56', '0x1.95a67e00cb1fdp-1', '-0x1.0befda21f862dp-55',
  '0x1.3b8e715a2840ap-1', '-0x1.97653a7d2f07bp-56', '0x1.93328926d9e92p-1', '-0x1.bb77003600cdap-55',
  '0x1.3eb25d36cd53ap-1', '-0x1.be570e1570fcp-58', '0x1.90b84784ddaf7p-1', '-0x1.0feb10ab93b87p-56',
  '0x1.41d14e4ba679p-1', '0x1.4608fd287ecf5p-55', '0x1.8e37c303d9ad1p-1', '-0x1.463a4b53d4bf8p-57',
  '0x1.44eb381cf386bp-1', '-0x1.3ed6c1e6a5505p-55', '0x1.8bb105a5dc9p-1', '0x1.863e03e9474c1p-55',
  '0x1.48000e431159fp-1', '-0x1.b194a7463ed1p-55', '0x1.89241985d871fp-1', '0x1.c48d9c413ed84p-55',
  '0x1.4b0fc46aab761p-1', '0x1.0da05738cc59ap-61', '0x1.869108d77a6c6p-1', '0x1.338ffe2bfe9ddp-56',
  '0x1.4e1a4e54ed51bp-1', '-0x1.a492f89b7c76ap-55', '0x1.83f7dde701cap-1', '-0x1.152cf609bc6e8p-59',
  '0x1.511f9fd7b351cp-1', '-0x1.5c0e861c48831p-55', '0x1.8158a31916d5dp-1', '-0x1.de8b90b8228dep-57',
  '0x1.541facddbb724p-1', '0x1.232c28520d391p-56', '0x1.7eb362eaa1488p-1', '0x1.a1d65a4a5959fp-58',
  '0x1.571a6966d59b3p-1', '0x1.c843b4d0fb198p-58', '0x1.7c0827f09e54fp-1', '-0x1.c73d6d72aee68p-57',
  '0x1.5a0fc98813a12p-1', '-0x1.d82e2b7d4227bp-55', '0x1.7956fcd7f6543p-1', '-0x1.ab276e9d45ae4p-55',
  '0x1.5cffc16bf8f0dp-1', '0x1.96cb370eb578ap-55', '0x1.769fec655211fp-1', '-0x1.827d5cf8c68c5p-57',
  '0x1.5fea4552a9e57p-1', '0x1.0b6cef7ee20b7p-55', '0x1.73e30174efba1p-1', '-0x1.5d3ae3d94ad5fp-57',
  '0x1.62cf49921ac79p-1', '-0x1.edd9855b6241ap-55', '0x1.712046fa77678p-1', '0x1.425b0a5029c81p-55',
  '0x1.65aec2963e755p-1', '0x1.126f96b71053cp-55', '0x1.6e57c800cf55ep-1', '0x1.60286dedbd0a6p-55',
  '0x1.6888a4e134b2fp-1', '-0x1.6b7d37644d5e6p-55', '0x1.6b898fa9efb5dp-1', '0x1.15ac786ccf4b2p-56',
  '0x1.6b5ce50b7821ap-1', '-0x1.5d5158f702e0fp-57', '0x1.68b5a92eb6253p-1', '-0x1.9a91ad985f89cp-55',
  '0x1.6e2b77c40bde1p-1', '-0x1.0e729857fad53p-56', '0x1.65dc1fdeb8cbap-1', '-0x1.97c1b47337c77p-58',
  '0x1.70f451d0a8c4p-1', '0x1.97ede3885770dp-57', '0x1.62fcff20191c7p-1', '0x1.d9143895756efp-57',
  '0x1.73b7680dea578p-1', '-0x1.2248306dc12a2p-56', '0x1.6018526f563dfp-1', '0x1.46ca5e0e432dp-55',
  '0x1.7674af6f7b524p-1', '0x1.e9d3f94ac84a8p-56', '0x1.5d2e255f1f17ap-1', '0x1.0314104c8892bp-55',
  '0x1.792c1d0041d52p-1', '-0x1.abf05eeb354ebp-55', '0x1.5a3e839824077p-1', '0x1.428aa2759be62p-55',
  '0x1.7bdda5e28b3c2p-1', '0x1.ad1197ccd0393p-59', '0x1.574978d8e83f2p-1', '0x1.f4714af282d23p-55',
  '0x1.7e893f5037959p-1', '0x1.0eefbaa650c4cp-55', '0x1.544f10f592ca5p-1', '-0x1.e7ae8e6c7a62fp-55',
  '0x1.812ede9ae4ba4p-1', '-0x1.7830adf402ddap-55', '0x1.514f57d7bf3dap-1', '0x1.47a108073c259p-56',
].map(h));

/**
 * The routine's doubles live in registers (this array) between its parts, never in arguments or
 * return values: V8 boxes a double passed to or returned from a function it did not inline (a heap
 * number each time), and a float64 cosine schedule evaluates `cos` at every step of the fused engine,
 * which must allocate nothing. Registers by index:
 */
const R = new Float64Array(48);
// Constants (the table's entries are negated into RNEG_* at each use: exact).
const RSN3 = 0, RSN5 = 1, RCS2 = 2, RCS4 = 3, RCS6 = 4, RS1 = 5, RS2 = 6, RS3 = 7, RS4 = 8, RS5 = 9;
const RHPINV = 10, RTOINT = 11, RMP1 = 12, RMP2 = 13, RPP3 = 14, RPP4 = 15;
R.set([SN3, SN5, CS2, CS4, CS6, S1, S2, S3, S4, S5, HPINV, TOINT, MP1, MP2, PP3, PP4]);
// The input and output; a + da, the kernels' argument; their working values.
const RIN = 16, ROUT = 17, RA = 18, RDA = 19, RX = 20, RXX = 21, RXXX = 22, RDX = 23, RT1 = 24, RS = 25, RT2 = 26, RT3 = 27;
const RC = 28, RT4 = 29, RT5 = 30, RCOR = 31, RSN = 32, RSSN = 33, RCS = 34, RCCS = 35, RNEG_SN = 36, RNEG_SSN = 37, RNEG_CS = 38;
const RNEG_HALF_DX = 39, RP = 40, RNEG_XN = 41, RY = 42, RYMT2 = 43, RDB2 = 44, RT2MB = 45, RB = 46, RXXT3 = 47;

/**
 * The multiply-adds, as programs of register indices `[out, a, b, c]`: `R[out] = fma(R[a], R[b],
 * R[c])` in order (each line's comment is glibc's C, where `fma(-a, b, c)` is written `fma(a, -b, c)`:
 * the same product, exactly). One loop runs them all ({@link runFmas}): the emulated FMA then has a
 * single call site, which V8 inlines, where twenty would exceed its inlining budget and box their
 * operands.
 */
const FMAS = Uint8Array.from([
  // do_cos: s = fma(x * xx, fma(xx, sn5, sn3), x); c = xx * fma(xx, fma(xx, cs6, cs4), cs2)
  RT1, RXX, RSN5, RSN3,
  RS, RXXX, RT1, RX,
  RT2, RXX, RCS6, RCS4,
  RT3, RXX, RT2, RCS2,
  // do_cos: cor = fma(-sn, s, fma(-cs, c, fma(-s, ssn, ccs)))
  RT4, RS, RNEG_SSN, RCCS,
  RT5, RC, RNEG_CS, RT4,
  RCOR, RS, RNEG_SN, RT5,
  // do_sin: s = x + fma(x * xx, fma(xx, sn5, sn3), dx); c = fma(x, dx, xx * fma(xx, fma(xx, cs6, cs4), cs2))
  RT1, RXX, RSN5, RSN3,
  RS, RXXX, RT1, RDX,
  RT2, RXX, RCS6, RCS4,
  RT3, RXX, RT2, RCS2,
  // do_sin: c, then cor = fma(s, cs, fma(-c, sn, fma(s, ccs, ssn)))
  RC, RX, RDX, RXXT3,
  RT4, RS, RCCS, RSSN,
  RT5, RC, RNEG_SN, RT4,
  RCOR, RS, RCS, RT5,
  // TAYLOR_SIN: poly = fma(xx, fma(xx, fma(xx, fma(xx, s5, s4), s3), s2), s1); t = fma(xx, fma(poly, x, -(0.5 * dx)), dx)
  RP, RXX, RS5, RS4,
  RP, RXX, RP, RS3,
  RP, RXX, RP, RS2,
  RP, RXX, RP, RS1,
  RT1, RP, RX, RNEG_HALF_DX,
  RT2, RXX, RT1, RDX,
  // reduce_sincos: t = fma(x, hpinv, toint)
  RT1, RIN, RHPINV, RTOINT,
  // y = fma(-xn, mp2, fma(-xn, mp1, x)); t2 = fma(-xn, pp3, y)
  RY, RNEG_XN, RMP1, RIN,
  RY, RNEG_XN, RMP2, RY,
  RT2, RNEG_XN, RPP3, RY,
  // db = fma(-xn, pp3, y - t2); b = fma(-xn, pp4, t2)
  RDA, RNEG_XN, RPP3, RYMT2,
  RB, RNEG_XN, RPP4, RT2,
  // db += fma(-xn, pp4, t2 - b)
  RDB2, RNEG_XN, RPP4, RT2MB,
]);
const F_COS = 0, F_COS_COR = 4, F_SIN = 7, F_SIN_COR = 11, F_TAYLOR = 15, F_REDUCE = 21, F_REDUCE_Y = 22, F_REDUCE_B = 25, F_REDUCE_DB = 27, F_END = 28;

/** Runs multiply-adds `from` to `to` of {@link FMAS}. */
function runFmas(from: number, to: number): void {
  for (let k = from; k < to; k++) R[FMAS[4 * k]] = fma64(R[FMAS[4 * k + 1]], R[FMAS[4 * k + 2]], R[FMAS[4 * k + 3]]);
}

/** A double's words (big-endian offsets: 0 the high word, 4 the low one), read without BigInts. */
const WORDS = new DataView(new ArrayBuffer(8));

/** Reads the table's four entries at the index of `big + |x|` (the low word of its bits, round(|x| * 128), times 4). */
function readTable(u: number): void {
  WORDS.setFloat64(0, u);
  const k = WORDS.getUint32(4) << 2;
  R[RSN] = SINCOS_TABLE[k];
  R[RSSN] = SINCOS_TABLE[k + 1];
  R[RCS] = SINCOS_TABLE[k + 2];
  R[RCCS] = SINCOS_TABLE[k + 3];
}

/** glibc's `do_cos(x, dx)`: cos(x + dx) of R[RA] + R[RDA] into R[ROUT], for |x| < 0.86 or so, from the table and short series. */
function doCos(): void {
  const x0 = R[RA];
  const dx = x0 < 0 ? -R[RDA] : R[RDA];
  const u = BIG + Math.abs(x0);
  const x = Math.abs(x0) - (u - BIG) + dx;
  readTable(u);
  R[RX] = x;
  R[RXX] = x * x;
  R[RXXX] = x * R[RXX];
  runFmas(F_COS, F_COS_COR);
  R[RC] = R[RXX] * R[RT3];
  R[RNEG_SSN] = -R[RSSN];
  R[RNEG_CS] = -R[RCS];
  R[RNEG_SN] = -R[RSN];
  runFmas(F_COS_COR, F_SIN);
  R[ROUT] = R[RCS] + R[RCOR];
}

/** glibc's `do_sin(x, dx)`: sin(x + dx) of R[RA] + R[RDA] into R[ROUT]. */
function doSin(): void {
  const x0 = R[RA];
  if (Math.abs(x0) < TAYLOR_LIMIT) {
    // TAYLOR_SIN(x * x, x, dx)
    R[RX] = x0;
    R[RDX] = R[RDA];
    R[RXX] = x0 * x0;
    R[RNEG_HALF_DX] = -(0.5 * R[RDA]);
    runFmas(F_TAYLOR, F_REDUCE);
    R[ROUT] = x0 + R[RT2];
    return;
  }
  R[RDX] = x0 <= 0 ? -R[RDA] : R[RDA];
  const u = BIG + Math.abs(x0);
  const x = Math.abs(x0) - (u - BIG);
  readTable(u);
  R[RX] = x;
  R[RXX] = x * x;
  R[RXXX] = x * R[RXX];
  runFmas(F_SIN, F_SIN_COR);
  R[RS] = x + R[RS];
  R[RXXT3] = R[RXX] * R[RT3];
  R[RNEG_SN] = -R[RSN];
  runFmas(F_SIN_COR, F_TAYLOR);
  const r = Math.abs(R[RSN] + R[RCOR]);
  R[ROUT] = x0 < 0 || (x0 === 0 && 1 / x0 < 0) ? -r : r;
}

/** sin (n even) or cos (n odd) of R[RA] + R[RDA] into R[ROUT], negated when n & 2. */
function doSinCos(n: number): void {
  if (n & 1) doCos();
  else doSin();
  if (n & 2) R[ROUT] = -R[ROUT];
}

/** glibc's `reduce_sincos` for |x| < 105414350: R[RIN] - n pi/2 into R[RA] + R[RDA]; returns n mod 4. */
function reduceSinCos(): number {
  runFmas(F_REDUCE, F_REDUCE_Y);
  const t = R[RT1];
  R[RNEG_XN] = -(t - TOINT);
  WORDS.setFloat64(0, t);
  const n = WORDS.getUint32(4) & 3;
  runFmas(F_REDUCE_Y, F_REDUCE_B);
  R[RYMT2] = R[RY] - R[RT2];
  runFmas(F_REDUCE_B, F_REDUCE_DB);
  R[RT2MB] = R[RT2] - R[RB];
  runFmas(F_REDUCE_DB, F_END);
  R[RA] = R[RB];
  R[RDA] += R[RDB2];
  return n;
}

/** floor(2/pi * 2^1200), for the exact reduction of huge arguments. */
const TWO_OVER_PI_BITS = 1200;
let twoOverPi: bigint | undefined;

/** x - n pi/2 for |x| >= 105414350, exactly (BigInt), rounded to a double-double into R[RA] + R[RDA]; returns n mod 4. Allocates (never a schedule's argument). */
function reduceLarge(x: number): number {
  // pi/2 to 1300 bits from the series of atan (Machin): pi/4 = 4 atan(1/5) - atan(1/239).
  if (twoOverPi === undefined) {
    const bits = 1400n;
    const one = 1n << bits;
    const atanInv = (m: bigint): bigint => {
      let sum = 0n, term = one / m, k = 1n, sign = 1n;
      const m2 = m * m;
      while (term !== 0n) { sum += sign * (term / k); term /= m2; k += 2n; sign = -sign; }
      return sum;
    };
    const piOver4 = 4n * atanInv(5n) - atanInv(239n); // pi/4 * 2^1400
    twoOverPi = (one << BigInt(TWO_OVER_PI_BITS)) / (2n * piOver4) ; // (2/pi) * 2^1200
  }
  const e = asuint64(x);
  const exp = Number((e >> 52n) & 0x7ffn) - 1075;
  const mant = (e & 0xfffffffffffffn) | (1n << 52n);
  // x * 2/pi as a fixed-point number with 1200 fraction bits (x's exponent is at least 26 here).
  const prod = (mant * twoOverPi) << BigInt(exp);
  const scale = 1n << BigInt(TWO_OVER_PI_BITS);
  let q = prod / scale;
  let frac = prod - q * scale;
  if (2n * frac > scale) { q += 1n; frac -= scale; }
  // r = frac / 2^1200 * pi/2, as a double-double: frac in 53 + 53 leading bits (exact), times pi/2.
  const negative = frac < 0n;
  const mag = negative ? -frac : frac;
  const top = mag >> 1147n;
  const f1 = Number(top) * 2 ** -53;
  const f2 = Number((mag - (top << 1147n)) >> 1094n) * 2 ** -106;
  const hi0 = f1 * HP0;
  const lo0 = fma64(f1, HP0, -hi0) + (f1 * HP1 + f2 * HP0);
  const hi = negative ? -hi0 : hi0, lo = negative ? -lo0 : lo0;
  const a = hi + lo;
  R[RA] = a;
  R[RDA] = hi - a + lo;
  return Number(((q % 4n) + 4n) % 4n);
}

/**
 * `cos(x)` for a double, bit for bit as glibc's `__cos_fma` in round-to-nearest for |x| < 105414350
 * (see the module comment for larger arguments).
 *
 * @example
 * ```ts
 * import { cos } from 'optax-ts';
 * console.log(cos(2.5), Math.cos(2.5)); // -0.8011436155469337 -0.8011436155469337
 * ```
 */
export function cos(x: number): number {
  R[RIN] = x;
  cosRegisters();
  return R[ROUT];
}

/**
 * `r[o] = cos(r[x])`: read from and written to registers, so that no double crosses the call (the
 * schedule programs of schedules/program.ts evaluate a float64 `cos` this way at every step). @internal
 */
export function cosAt(r: Float64Array, x: number, o: number): void {
  R[RIN] = r[x];
  cosRegisters();
  r[o] = R[ROUT];
}

/** cos of R[RIN] into R[ROUT]. */
function cosRegisters(): void {
  const x = R[RIN];
  WORDS.setFloat64(0, x);
  const k = WORDS.getUint32(0) & 0x7fffffff;
  if (k < 0x3e400000) R[ROUT] = 1;
  else if (k < 0x3feb6000) {
    R[RA] = x;
    R[RDA] = 0;
    doCos();
  } else if (k < 0x400368fd) {
    const y = HP0 - Math.abs(x);
    const a = y + HP1;
    R[RA] = a;
    R[RDA] = (y - a) + HP1;
    doSin();
  } else if (k < 0x419921fb) doSinCos(reduceSinCos() + 1);
  else if (k < 0x7ff00000) doSinCos(reduceLarge(Math.abs(x)) + 1);
  else R[ROUT] = NaN;
}

/**
 * Every branch of {@link cosRegisters} but the large reduction, run at load: V8 optimizes a function
 * for the branches it has seen, and a step that first takes another one (a cosine decay's argument
 * crossing 0.855, then 2.426) throws that code away; until it is optimized again, every call
 * allocates (unoptimized code boxes its doubles). Seen here first, no branch is new later.
 */
function seedBranches(): void {
  const cases = [0, 1e-9, 0.1, -0.5, 0.8, 1, 1.5, 2, 2.4, 2.5, 3, 3.14159, 4, 5, 6, -1e6, NaN, Infinity];
  for (let rep = 0; rep < 64; rep++) for (const x of cases) { R[RIN] = x; cosRegisters(); }
}
seedBranches();
