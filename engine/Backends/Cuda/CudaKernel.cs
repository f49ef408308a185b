namespace Vicreg.Engine.Backends.Cuda;

/// <summary>Every kernel the CUDA backend launches. The order matches <see cref="CudaKernelCatalog.Entries"/>.</summary>
internal enum CudaKernel
{
    Unary, Binary, Axpy, AddChannelVector, Broadcast,
    ChannelSum, ReduceSum, ReduceRows, SumSquaresPartial, SumScaled,
    BnPartial, BnMean, BnFinalize, BnNormalize, BnInference, BnBackwardPartial, BnBackwardFinalize, BnBackwardData,
    MaxPoolForward, MaxPoolBackward,
    SoftmaxXentForward, SoftmaxXentBackward,
    SgdUpdate, LarsNormsPartial, LarsUpdate,
    Im2Col, Col2Im,
}

/// <summary>Where each kernel lives: the .cu module (embedded resource Vicreg.Kernels.&lt;module&gt;.cu) and
/// its extern "C" name. The tests check every entry against the symbol table of each compiled CUBIN.</summary>
internal static class CudaKernelCatalog
{
    public static readonly (string Module, string Name)[] Entries =
    [
        ("elementwise", "unary_f32"), ("elementwise", "binary_f32"), ("elementwise", "axpy_f32"),
        ("elementwise", "add_channel_vector_f32"), ("elementwise", "broadcast_f32"),
        ("reduce", "channel_sum_f32"), ("reduce", "reduce_sum_f32"), ("reduce", "reduce_rows_f32"),
        ("reduce", "sum_squares_partial_f32"), ("reduce", "sum_scaled_f32"),
        ("batchnorm", "bn_partial_f32"), ("batchnorm", "bn_mean_f32"), ("batchnorm", "bn_finalize_f32"),
        ("batchnorm", "bn_normalize_f32"), ("batchnorm", "bn_inference_f32"),
        ("batchnorm", "bn_backward_partial_f32"), ("batchnorm", "bn_backward_finalize_f32"), ("batchnorm", "bn_backward_data_f32"),
        ("pooling", "maxpool2d_forward_f32"), ("pooling", "maxpool2d_backward_f32"),
        ("softmax", "softmax_xent_forward_f32"), ("softmax", "softmax_xent_backward_f32"),
        ("optimizer", "sgd_update_f32"), ("optimizer", "lars_norms_partial_f32"), ("optimizer", "lars_update_f32"),
        ("im2col", "im2col_f32"), ("im2col", "col2im_f32"),
    ];

    /// <summary>The distinct module names, in first-use order.</summary>
    public static readonly string[] Modules = Entries.Select(e => e.Module).Distinct().ToArray();

    static CudaKernelCatalog()
    {
        if (Entries.Length != Enum.GetValues<CudaKernel>().Length)
            throw new InvalidOperationException("CudaKernelCatalog.Entries and the CudaKernel enum disagree");
    }
}
