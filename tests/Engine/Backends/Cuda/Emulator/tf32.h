// TF32 as the fakes model it: float32's exponent and the top 10 of its 23 mantissa bits. Tensor cores round each
// input to TF32 (to nearest) and accumulate in float32, so a fake in TF32 mode rounds the inputs it reads.
#pragma once
#include <cstring>

inline float tf32(float v)
{
    unsigned u;
    std::memcpy(&u, &v, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u; // leave infinities and NaNs alone
    std::memcpy(&v, &u, 4);
    return v;
}
