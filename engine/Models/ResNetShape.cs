namespace Vicreg.Engine.Models;

/// <summary>
/// A ResNet's sizes without building it (a network too large to allocate can still be measured): its
/// parameter count, its representation size, and the elements of every convolution, batch-norm, ReLU,
/// residual sum and pooling output for one input image, the tensors a training step keeps for its backward.
/// The walk follows <see cref="ResNet"/>'s constructor: the stem, then stages of blocks with the stride in
/// the first block of stages 2 to 4 (on the 3x3 convolution), a projection shortcut where shape changes.
/// </summary>
public readonly record struct ResNetShape(long Parameters, long ActivationsPerSample, int RepresentationSize)
{
    /// <summary>The sizes of the ResNet <see cref="Backbones.Create"/> would build for <paramref name="arch"/>, <paramref name="stem"/>,
    /// <paramref name="width"/> and <paramref name="inChannels"/>, on images of <paramref name="height"/> × <paramref name="imageWidth"/> pixels;
    /// an <see cref="ArgumentException"/> for an unknown architecture.</summary>
    public static ResNetShape Of(string arch, ResNetStem stem, double width, int inChannels, int height, int imageWidth)
    {
        var (bottleneck, blocks) = arch switch
        {
            "resnet18" => (false, new[] { 2, 2, 2, 2 }),
            "resnet34" => (false, new[] { 3, 4, 6, 3 }),
            "resnet50" => (true, new[] { 3, 4, 6, 3 }),
            "resnet101" => (true, new[] { 3, 4, 23, 3 }),
            _ => throw new ArgumentException($"unknown arch '{arch}' ({string.Join(", ", Backbones.Architectures)})"),
        };
        long parameters = 0, activations = 0;
        int stemChannels = (int)Math.Round(64 * width);
        // A convolution (no bias) followed by batch norm: weights and gamma/beta; its output and the norm's.
        void ConvNorm(int cin, int cout, int kernel, long pixels)
        {
            parameters += (long)cin * cout * kernel * kernel + 2L * cout;
            activations += 2 * cout * pixels;
        }
        static int Out(int size, int kernel, int stride, int pad) => (size + 2 * pad - kernel) / stride + 1;

        int h = height, w = imageWidth;
        if (stem == ResNetStem.Imagenet) { h = Out(h, 7, 2, 3); w = Out(w, 7, 2, 3); }
        ConvNorm(inChannels, stemChannels, stem == ResNetStem.Imagenet ? 7 : 3, (long)h * w);
        activations += (long)stemChannels * h * w; // ReLU
        if (stem == ResNetStem.Imagenet)
        {
            h = Out(h, 3, 2, 1);
            w = Out(w, 3, 2, 1);
            activations += 2L * stemChannels * h * w; // max-pool output and its argmax
        }
        int channels = stemChannels, expansion = bottleneck ? 4 : 1;
        for (int s = 0; s < blocks.Length; s++)
        {
            int planes = stemChannels << s;
            for (int b = 0; b < blocks[s]; b++)
            {
                int stride = s > 0 && b == 0 ? 2 : 1;
                long inPixels = (long)h * w;
                int oh = Out(h, 3, stride, 1), ow = Out(w, 3, stride, 1);
                long pixels = (long)oh * ow;
                int outChannels = planes * expansion;
                if (bottleneck)
                {
                    ConvNorm(channels, planes, 1, inPixels);
                    activations += planes * inPixels;            // ReLU
                    ConvNorm(planes, planes, 3, pixels);
                    activations += planes * pixels;              // ReLU
                    ConvNorm(planes, outChannels, 1, pixels);
                }
                else
                {
                    ConvNorm(channels, planes, 3, pixels);
                    activations += planes * pixels;              // ReLU
                    ConvNorm(planes, planes, 3, pixels);
                }
                if (stride != 1 || channels != outChannels) ConvNorm(channels, outChannels, 1, pixels);
                activations += 2 * outChannels * pixels;         // the residual sum and its ReLU
                channels = outChannels;
                (h, w) = (oh, ow);
            }
        }
        return new ResNetShape(parameters, activations + channels, channels);
    }
}
