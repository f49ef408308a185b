// Written by the build from the C# enums UnaryOp, BinaryOp (tools/CudaKernelGenerator): do not edit.
// The kernels switch on these names and trap on any other value; the build checks this file against the enums.
#pragma once

enum class UnaryOp : int
{
    Copy = 0,
    Scale = 1,
    AddScalar = 2,
    Square = 3,
    Sqrt = 4,
    Relu = 5,
    Hinge = 6,
    Exp = 7,
    Log = 8,
    Reciprocal = 9,
    Tanh = 10,
    Pow = 11,
    Gelu = 12,
};

enum class BinaryOp : int
{
    Add = 0,
    Sub = 1,
    Mul = 2,
    Div = 3,
    ReluBackward = 4,
    HingeBackward = 5,
    Maximum = 6,
    Minimum = 7,
    MaxGradientShare = 8,
    SelectNonZero = 9,
    SelectZero = 10,
    TanhBackward = 11,
    GeluBackward = 12,
};
