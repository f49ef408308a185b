namespace Vicreg.Bench;

public sealed class ConvolutionBenchmark : IBenchmark
{
    public string Name => "conv";
    public string Description => "ResNet-18 (CIFAR stem, 32x32, batch 64) conv forward+backward vs our GEMM rate";
    public void Run(BenchOptions options) => Console.WriteLine("todo");
}
