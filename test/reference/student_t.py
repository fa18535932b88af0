"""Reference values of Student's t for test/report/student-t.test.ts, from mpmath at 40 digits.

The CDF is integrated from the density (not taken from the incomplete beta function the code
uses), and the quantile found by mpmath's root finder:
    F(t; v) = 1/2 + integral_0^t  Gamma((v+1)/2) / (sqrt(v pi) Gamma(v/2)) (1 + s^2/v)^(-(v+1)/2) ds
Run:  /usr/bin/python3 test/reference/student_t.py   (needs python3-mpmath)
"""
import mpmath as mp

mp.mp.dps = 40


def cdf(t, v):
    c = mp.gamma((v + 1) / 2) / (mp.sqrt(v * mp.pi) * mp.gamma(v / 2))
    return mp.mpf(1) / 2 + mp.quad(lambda s: c * (1 + s * s / v) ** (-(v + 1) / 2), [0, t])


def quantile(p, v):
    guess = mp.sqrt(2) * mp.erfinv(2 * p - 1)  # the normal quantile
    return mp.findroot(lambda t: cdf(t, v) - p, guess if v > 2 else guess * 3)


def r(x):
    """The nearest double, in the fewest digits that read back as it (as JavaScript prints it)."""
    return repr(float(x))


ps = ['0.975', '0.995', '0.9', '0.6']
nus = ['0.5', '1', '3', '7', '9', '19', '29', '99', '999']
print('// [p, nu, t_{p,nu}]')
for v in nus:
    for p in ps:
        t = quantile(mp.mpf(p), mp.mpf(v))
        print(f"  [{p}, {v}, {r(t)}],")
print('// normal: z_0.975 =', r(mp.sqrt(2) * mp.erfinv(mp.mpf('0.95'))))
print('// erf(0.5), erf(1), erf(2) =', ', '.join(r(mp.erf(x)) for x in [mp.mpf('0.5'), 1, 2]))
