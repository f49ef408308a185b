namespace Vicreg.Engine.Backends.Cpu.Convolution;

/// <summary>
/// Several images' [rows x pixels] planes placed side by side as one [rows x (images*pixels)] matrix, and
/// back. Late ResNet stages have few output pixels (16 at 4x4), which as a GEMM dimension wastes most of a
/// register tile and re-streams the weights for every image; a tile of images restores a wide dimension
/// for the price of a copy that is small beside the product.
/// </summary>
internal static unsafe class ImageTile
{
    /// <summary>How many images to put side by side so that a tile has at least <paramref name="targetColumns"/>
    /// columns, capped by the images available.</summary>
    public static int ImagesPerTile(int pixels, int targetColumns, int available)
        => Math.Clamp((targetColumns + pixels - 1) / Math.Max(pixels, 1), 1, Math.Max(available, 1));

    /// <summary>tile[r, i*pixels + p] = images[i][r, p] for i &lt; count; image i starts at first + i*imageStride.</summary>
    public static void Gather<T>(T* first, nint imageStride, int count, int rows, int pixels, T* tile) where T : unmanaged
    {
        nint width = (nint)count * pixels;
        for (int i = 0; i < count; i++)
        {
            T* src = first + i * imageStride;
            for (int r = 0; r < rows; r++)
                new ReadOnlySpan<T>(src + (nint)r * pixels, pixels).CopyTo(new Span<T>(tile + r * width + (nint)i * pixels, pixels));
        }
    }

    /// <summary>The inverse of <see cref="Gather{T}"/>: images[i][r, p] = tile[r, i*pixels + p].</summary>
    public static void Scatter<T>(T* tile, int count, int rows, int pixels, T* first, nint imageStride) where T : unmanaged
    {
        nint width = (nint)count * pixels;
        for (int i = 0; i < count; i++)
        {
            T* dst = first + i * imageStride;
            for (int r = 0; r < rows; r++)
                new ReadOnlySpan<T>(tile + r * width + (nint)i * pixels, pixels).CopyTo(new Span<T>(dst + (nint)r * pixels, pixels));
        }
    }
}
