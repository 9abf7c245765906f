/* Philox4x32-10 against the published known-answer vectors, and the derived draws. */
#include <stdint.h>

#include "core/rng.h"
#include "testlib.h"

static void check_kat(const uint32_t ctr[4], const uint32_t key[2], const uint32_t want[4])
{
    uint32_t out[4];
    ps_philox4x32_10(ctr, key, out);
    for (int i = 0; i < 4; i++)
        CHECK(out[i] == want[i], "philox word %d is %08x, expected %08x", i, out[i], want[i]);
}

int main(void)
{
    /* Known-answer vectors of Random123 (kat_vectors, philox4x32 10). */
    {
        uint32_t c[4] = {0, 0, 0, 0}, k[2] = {0, 0};
        uint32_t w[4] = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8};
        check_kat(c, k, w);
    }
    {
        uint32_t c[4] = {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff};
        uint32_t k[2] = {0xffffffff, 0xffffffff};
        uint32_t w[4] = {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd};
        check_kat(c, k, w);
    }
    {
        uint32_t c[4] = {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344};
        uint32_t k[2] = {0xa4093822, 0x299f31d0};
        uint32_t w[4] = {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1};
        check_kat(c, k, w);
    }

    /* The stream's first block is philox(counter (0, 0, stream), key seed). */
    {
        ps_rng r;
        ps_rng_init(&r, UINT64_C(0x299f31d0a4093822), UINT64_C(0x0370734413198a2e));
        uint32_t c[4] = {0, 0, 0x13198a2e, 0x03707344}, k[2] = {0xa4093822, 0x299f31d0};
        uint32_t want[4];
        ps_philox4x32_10(c, k, want);
        for (int i = 0; i < 4; i++)
            CHECK(ps_rng_u32(&r) == want[i], "stream word %d differs from philox", i);
        c[0] = 1;
        ps_philox4x32_10(c, k, want);
        CHECK(ps_rng_u32(&r) == want[0], "second block does not use counter 1");
    }

    /* Save and restore reproduce the sequence exactly, at every offset within a block. */
    for (int skip = 0; skip < 9; skip++) {
        ps_rng a, b;
        ps_rng_init(&a, 2385, 7);
        for (int i = 0; i < skip; i++)
            ps_rng_u32(&a);
        ps_rng_state st;
        ps_rng_save(&a, &st);
        ps_rng_restore(&b, &st);
        for (int i = 0; i < 20; i++) {
            double x = ps_rng_normal(&a), y = ps_rng_normal(&b);
            CHECK(x == y, "restored draw %d after skipping %d differs: %g vs %g", i, skip, x, y);
        }
    }

    /* Different streams differ. */
    {
        ps_rng a, b;
        ps_rng_init(&a, 1, 0);
        ps_rng_init(&b, 1, 1);
        int same = 0;
        for (int i = 0; i < 64; i++)
            same += ps_rng_u32(&a) == ps_rng_u32(&b);
        CHECK(same < 2, "streams 0 and 1 share %d of 64 words", same);
    }

    /* Moments of the derived distributions, judged in standard errors (n = 400000; each
     * bound is 5 SE, so a false failure has probability below 1e-5 per check). */
    {
        ps_rng r;
        ps_rng_init(&r, 20261124, 3);
        const int n = 400000;
        double su = 0, su2 = 0, sn = 0, sn2 = 0, sn4 = 0, se = 0, se2 = 0, umin = 1, umax = 0;
        for (int i = 0; i < n; i++) {
            double u = ps_rng_uniform(&r);
            double z = ps_rng_normal(&r);
            double e = ps_rng_exponential(&r);
            su += u;
            su2 += u * u;
            sn += z;
            sn2 += z * z;
            sn4 += z * z * z * z;
            se += e;
            se2 += e * e;
            umin = u < umin ? u : umin;
            umax = u > umax ? u : umax;
        }
        CHECK(umin > 0.0 && umax < 1.0, "uniform left (0,1): min %g max %g", umin, umax);
        double mu = su / n, vu = su2 / n - mu * mu;
        CHECK(fabs(mu - 0.5) < 5 * sqrt(1.0 / 12 / n), "uniform mean %g, expected 0.5", mu);
        CHECK(fabs(vu - 1.0 / 12) < 5 * sqrt(1.0 / 180 / n), "uniform var %g", vu);
        double mz = sn / n, vz = sn2 / n - mz * mz;
        CHECK(fabs(mz) < 5 * sqrt(1.0 / n), "normal mean %g, expected 0", mz);
        CHECK(fabs(vz - 1) < 5 * sqrt(2.0 / n), "normal var %g, expected 1", vz);
        CHECK(fabs(sn4 / n - 3) < 5 * sqrt(96.0 / n), "normal 4th moment %g, expected 3", sn4 / n);
        double me = se / n, ve = se2 / n - me * me;
        CHECK(fabs(me - 1) < 5 * sqrt(1.0 / n), "exponential mean %g, expected 1", me);
        CHECK(fabs(ve - 1) < 5 * sqrt(8.0 / n), "exponential var %g, expected 1", ve);
    }

    /* Uniform integers: every value of a non-power-of-two range is equally likely
     * (chi-square with 6 degrees of freedom; 35 is beyond the 1e-5 quantile). */
    {
        ps_rng r;
        ps_rng_init(&r, 99, 0);
        long count[7] = {0};
        const long n = 700000;
        for (long i = 0; i < n; i++) {
            uint64_t k = ps_rng_uniform_int(&r, 7);
            CHECK(k < 7, "uniform_int(7) gave %llu", (unsigned long long)k);
            if (k < 7)
                count[k]++;
        }
        double chi2 = 0;
        for (int k = 0; k < 7; k++)
            chi2 += (count[k] - n / 7.0) * (count[k] - n / 7.0) / (n / 7.0);
        CHECK(chi2 < 35, "uniform_int(7) chi-square %g with 6 d.o.f.", chi2);
        CHECK(ps_rng_uniform_int(&r, 1) == 0, "uniform_int(1) must be 0");
        uint64_t big = UINT64_C(0xC000000000000001);
        int high = 0;
        for (int i = 0; i < 1000; i++) {
            uint64_t k = ps_rng_uniform_int(&r, big);
            CHECK(k < big, "uniform_int(big) out of range");
            high += k >= UINT64_C(0x8000000000000000);
        }
        /* P(k >= 2^63) = 1/3 here; 1000 draws: 333 +/- 15, bound at 5 SE. */
        CHECK(high > 258 && high < 408, "uniform_int over 64 bits: %d of 1000 high", high);
    }
    TEST_EXIT();
}
