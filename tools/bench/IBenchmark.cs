namespace Vicreg.Bench;

/// <summary>One section of the benchmark program, selected by name on the command line. To add a section,
/// implement this and list it in <see cref="Program.Benchmarks"/>.</summary>
public interface IBenchmark
{
    /// <summary>The subcommand (e.g. "gemm").</summary>
    string Name { get; }
    /// <summary>One line for the usage text.</summary>
    string Description { get; }
    /// <summary>Whether `all` runs it (false for sections too slow or too large to run by default).</summary>
    bool InAll => true;
    void Run(BenchOptions options);
}

/// <summary>Flags shared by all sections.</summary>
/// <param name="Shapes">For <c>gemm</c>: only the products whose label contains this text (e.g. "(r50)", "wgrad").</param>
public sealed record BenchOptions(bool Quick, int Repeats, string? Shapes = null);
