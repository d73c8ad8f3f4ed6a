/*
 * Writes test/core/fma64-glibc.json: hostile float64 fused multiply-add triples with the result of
 * this machine's C `fma()` (glibc; on x86-64 with FMA3 it is the vfmadd instruction), each value as
 * the 16 hex digits of its bits: [a, b, c, fma(a, b, c)]. An independent check of
 * src/core/fused-multiply-add.ts's fmaFloat64 (test/core/fused-multiply-add.test.ts reads the file).
 * Run scripts/fma64-glibc/generate.sh to regenerate (needs a C compiler; CI only reads the file).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <float.h>

static uint64_t state = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) { /* xorshift64* */
  state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
  return state * 0x2545f4914f6cdd1dull;
}
static double from_bits(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
static uint64_t to_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
/* A double with a random significand (sometimes few bits, for exact products and ties) in [2^e, 2^(e+1)), or subnormal below. */
static double with_exponent(int e) {
  uint64_t m = next() & 0xfffffffffffffull;
  if (next() % 4 == 0) m &= ~((1ull << (next() % 52)) - 1); /* trailing zeros */
  double x = ldexp(1.0 + (double)m * 0x1p-52, e);
  return next() & 1 ? -x : x;
}
static int range(int lo, int hi) { return lo + (int)(next() % (uint64_t)(hi - lo + 1)); }
static int count = 0;
static void emit(double a, double b, double c) {
  volatile double va = a, vb = b, vc = c; /* no constant folding */
  double r = fma(va, vb, vc);
  printf("%s\n  [\"%016llx\", \"%016llx\", \"%016llx\", \"%016llx\"]", count++ ? "," : "", (unsigned long long)to_bits(a),
         (unsigned long long)to_bits(b), (unsigned long long)to_bits(c), (unsigned long long)to_bits(r));
}

int main(void) {
  printf("[");
  /* The known case: a tiny product cancelled by c (the old emulation gave c + ulp). */
  emit(ldexp(1 + 0x1p-30, -481), ldexp(1 - 0x1p-30, -480), ldexp(1 + 0x1p-52, -908));
  /* Specials and signed zeros. */
  const double sp[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1.0, -1.0, DBL_MAX, -DBL_MAX, 0x1p-1074, -0x1p-1074, 0x1p-1022, 0x1p600, -0x1p-600};
  const int n = sizeof sp / sizeof sp[0];
  for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) for (int k = 0; k < n; k++) if ((i * 7 + j * 3 + k) % 5 == 0) emit(sp[i], sp[j], sp[k]);
  for (int t = 0; t < 400; t++) { /* random bit patterns, all finite */
    double a = from_bits(next()), b = from_bits(next()), c = from_bits(next());
    if (isfinite(a) && isfinite(b) && isfinite(c)) emit(a, b, c);
  }
  for (int t = 0; t < 400; t++) { /* tiny products, cancelled by c to a subnormal or small result, or underflowing to zero */
    int ea = range(-1074, 100), ep = range(-1140, -900), eb = ep - ea;
    if (eb < -1074 || eb > 1023) { t--; continue; }
    double a = with_exponent(ea), b = with_exponent(eb), p = a * b;
    double c;
    switch (next() % 5) {
      case 0: c = -p; break;
      case 1: c = -p + (double)range(-8, 8) * 0x1p-1074; break;
      case 2: c = -p * (1 + (double)range(-4, 4) * 0x1p-52); break;
      case 3: c = (next() & 1 ? 0.0 : -0.0); break;
      default: c = with_exponent(range(-1074, -890)); break;
    }
    emit(a, b, c);
  }
  for (int t = 0; t < 300; t++) { /* products beyond the largest double (or near it) that c brings back, or not */
    int ea = range(400, 1023), eb = range(1016, 1026) - ea;
    if (eb > 1023 || eb < -1074) { t--; continue; }
    double a = with_exponent(ea), b = with_exponent(eb);
    double c = (((a < 0) != (b < 0)) ? 1 : -1) * (DBL_MAX - ldexp((double)(next() % 4096), 960 + range(0, 12)));
    if (next() % 4 == 0) c = -c;
    emit(a, b, c);
  }
  for (int t = 0; t < 200; t++) { /* a factor beyond 2^995 (Dekker's split overflows), any c */
    double a = with_exponent(range(995, 1023)), b = with_exponent(range(-1074, 0));
    double c = next() % 2 ? -a * b * (1 + (double)range(-3, 3) * 0x1p-52) : with_exponent(range(-1074, 1023));
    emit(next() & 1 ? a : b, next() & 1 ? b : a, c);
  }
  for (int t = 0; t < 300; t++) { /* ties and near-ties: a * b exact, at half an ulp of c, with or without a sticky bit */
    int ec = range(-1060, 1000);
    double c = with_exponent(ec);
    int ulp = ec - 52 < -1074 ? -1074 : ec - 52;
    int s = range(-30, 30);
    double a = ldexp(1 + (double)range(-2, 2) * 0x1p-52, s), b = ldexp(next() & 1 ? 1 : -1, ulp - 1 - s);
    if (!isfinite(a) || !isfinite(b) || b == 0) { t--; continue; }
    emit(a, b, c);
  }
  printf("\n]\n");
  fprintf(stderr, "%d vectors\n", count);
  return 0;
}
