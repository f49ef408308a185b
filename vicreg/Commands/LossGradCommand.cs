using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.IO;
using Vicreg.Engine;
using Vicreg.Losses;
using Vicreg.Platform;

namespace Vicreg.Commands;

/// <summary>
/// `vicreg loss-grad`: the VICReg loss of two embeddings read from a safetensors file, its three
/// unweighted terms, the gradient of the weighted total and of each term, written to another file:
/// a way to check our loss against any other implementation on the same numbers.
/// </summary>
public sealed class LossGradCommand : ICommand
{
    public string Name => "loss-grad";
    public string Summary => "VICReg (or Barlow Twins) loss, its terms and their gradients for embeddings z_a, z_b [N, D] in a safetensors file";

    public int Run(Arguments args, string commandLine)
    {
        string? input = args.OptionalString("input", "safetensors file holding z_a and z_b, both [N, D] (float32; float64 is computed in float64 on the CPU)");
        string? output = args.OptionalString("output", "safetensors file to write: loss, invariance, variance, covariance, grad_z_a, grad_z_b, grad_z_a.invariance, ...");
        double sim = args.Double("sim-coeff", 25, "weight of the invariance term", min: 0);
        double std = args.Double("std-coeff", 25, "weight of the variance term", min: 0);
        double cov = args.Double("cov-coeff", 1, "weight of the covariance term", min: 0);
        string device = args.String("device", "auto", "cpu, cuda or auto");
        string lossName = args.String("loss", "vicreg", "vicreg, or barlowtwins (writes loss, on_diagonal, off_diagonal, their gradients; see BarlowTwinsLossGrad)");
        double lambd = args.Double("lambd", 0.0051, "barlowtwins: weight of the off-diagonal term", min: 0);
        if (args.HelpRequested) { Console.WriteLine(args.Usage(Summary)); return 0; }
        args.RejectUnknown();
        if (input is null) throw new UsageException($"{Name}: --input is required (a safetensors file with z_a and z_b)");
        if (output is null) throw new UsageException($"{Name}: --output is required");
        if (lossName is not ("vicreg" or "barlowtwins")) throw new UsageException($"{Name}: --loss must be vicreg or barlowtwins, got '{lossName}'");
        var backend = ResolveDevice(Name, device);

        using var scope = TensorScope.Begin();
        var (za, zb) = ReadEmbeddings(input, backend);
        NonFiniteInput.Warn(Name, ("z_a", za), ("z_b", zb));
        if (lossName == "barlowtwins") return BarlowTwinsLossGrad.Run(Name, za, zb, lambd, output, commandLine, backend);
        var loss = new VicregLoss(sim, std, cov);
        za.RequiresGrad = zb.RequiresGrad = true;
        var result = loss.Forward(za, zb);
        result.Loss.Backward();
        var terms = result.ReadTerms();
        using var grads = VicregLoss.TermGradients(za, zb);

        var dtype = za.DType;
        Tensor Scalar(double v) => Tensor.Scalar(v, dtype, CpuBackend.Instance);
        var tensors = new List<(string, Tensor)>
        {
            ("loss", result.Loss),
            ("invariance", Scalar(terms.Invariance)),
            ("variance", Scalar(terms.Variance)),
            ("covariance", Scalar(terms.Covariance)),
            ("grad_z_a", za.Grad!),
            ("grad_z_b", zb.Grad!),
            ("grad_z_a.invariance", grads.InvarianceA),
            ("grad_z_a.variance", grads.VarianceA),
            ("grad_z_a.covariance", grads.CovarianceA),
            ("grad_z_b.invariance", grads.InvarianceB),
            ("grad_z_b.variance", grads.VarianceB),
            ("grad_z_b.covariance", grads.CovarianceB),
        };
        var metadata = new Dictionary<string, string>
        {
            ["sim_coeff"] = sim.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            ["std_coeff"] = std.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            ["cov_coeff"] = cov.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            ["command"] = commandLine,
        };
        try
        {
            SafetensorsWriter.Write(output, tensors, metadata);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{Name}: cannot write {output}: {e.Message}");
        }
        finally
        {
            za.Grad?.Dispose();
            zb.Grad?.Dispose();
        }
        Console.WriteLine($"{Name}: N={za.Shape[0]} D={za.Shape[1]} ({dtype.Name()}, {backend.Name}): loss {result.Loss.Item():G9} = " +
                          $"{sim:G} x invariance {terms.Invariance:G9} + {std:G} x variance {terms.Variance:G9} + {cov:G} x covariance {terms.Covariance:G9} -> {output}");
        return 0;
    }

    private (Tensor A, Tensor B) ReadEmbeddings(string path, IBackend backend)
    {
        try
        {
            using var reader = new SafetensorsReader(path);
            var a = Entry(reader, "z_a");
            var b = Entry(reader, "z_b");
            if (a.Shape.Rank != 2) throw new UsageException($"{Name}: z_a in {path} must be [N, D], got {a.Shape}");
            if (a.Shape != b.Shape) throw new UsageException($"{Name}: z_a {a.Shape} and z_b {b.Shape} in {path} must have the same shape");
            if (a.Shape[0] < 2) throw new UsageException($"{Name}: the variance needs at least 2 samples, {path} has N={a.Shape[0]}");
            if (a.Shape[1] < 1) throw new UsageException($"{Name}: z_a in {path} has no columns");
            // Double input stays double where the backend holds it (parity checks); otherwise float32.
            bool wide = a.DType == SafetensorsDType.F64 && b.DType == SafetensorsDType.F64 && backend.Supports(DType.Float64);
            var dtype = wide ? DType.Float64 : DType.Float32;
            return (reader.ReadTensor("z_a", dtype, backend), reader.ReadTensor("z_b", dtype, backend));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{Name}: cannot read {path}: {e.Message}");
        }

        SafetensorsEntry Entry(SafetensorsReader reader, string name)
        {
            if (!reader.TryGetEntry(name, out var entry))
                throw new UsageException($"{Name}: {path} has no tensor '{name}' (it has: {string.Join(", ", reader.Entries.Select(e => e.Name))})");
            if (!entry.DType.IsFloating()) throw new UsageException($"{Name}: {name} in {path} is {entry.DType.HeaderName()}; embeddings must be floating-point");
            return entry;
        }
    }

    /// <summary>--device through <see cref="BackendSelector"/>; its refusals become one-line usage errors.</summary>
    internal static IBackend ResolveDevice(string command, string device)
    {
        try
        {
            return BackendSelector.Resolve(device, message => Console.Error.WriteLine($"{command}: {message}"));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            throw new UsageException($"{command}: {e.Message}");
        }
    }
}
