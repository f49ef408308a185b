using System.Globalization;
using Vicreg.Engine;
using Vicreg.Engine.Backends.Cpu;
using Vicreg.Engine.IO;
using Vicreg.Losses;

namespace Vicreg.Commands;

/// <summary>
/// `vicreg loss-grad --loss barlowtwins`: the Barlow Twins loss of z_a, z_b (<see cref="BarlowTwinsLoss"/>), written in the
/// form VICReg's is: loss, the unweighted terms on_diagonal = sum_i (1 - c_ii)^2 and off_diagonal = sum_{i != j} c_ij^2,
/// grad_z_a and grad_z_b of loss = on_diagonal + lambda · off_diagonal, and grad_z_a.&lt;term&gt;, grad_z_b.&lt;term&gt; of each
/// unweighted term (each from its own forward: the loss with the other term's weight set to 0).
/// </summary>
internal static class BarlowTwinsLossGrad
{
    public static int Run(string command, Tensor za, Tensor zb, double lambda, string output, string commandLine, IBackend backend)
    {
        var (loss, terms, ga, gb) = Gradients(za, zb, new BarlowTwinsLoss(lambda));
        var (_, _, onA, onB) = Gradients(za, zb, new BarlowTwinsLoss(0, onDiagonalWeight: 1));
        var (_, _, offA, offB) = Gradients(za, zb, new BarlowTwinsLoss(1, onDiagonalWeight: 0));
        var t = terms.DType == DType.Float64 ? terms.ToArray<double>() : Array.ConvertAll(terms.ToArray<float>(), v => (double)v);
        Tensor Scalar(double v) => Tensor.Scalar(v, za.DType, CpuBackend.Instance);
        var tensors = new List<(string, Tensor)>
        {
            ("loss", loss),
            ("on_diagonal", Scalar(t[0])),
            ("off_diagonal", Scalar(t[1])),
            ("grad_z_a", ga),
            ("grad_z_b", gb),
            ("grad_z_a.on_diagonal", onA),
            ("grad_z_a.off_diagonal", offA),
            ("grad_z_b.on_diagonal", onB),
            ("grad_z_b.off_diagonal", offB),
        };
        var metadata = new Dictionary<string, string>
        {
            ["loss"] = "barlowtwins",
            ["lambd"] = lambda.ToString("R", CultureInfo.InvariantCulture),
            ["command"] = commandLine,
        };
        try
        {
            SafetensorsWriter.Write(output, tensors, metadata);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{command}: cannot write {output}: {e.Message}");
        }
        Console.WriteLine($"{command}: N={za.Shape[0]} D={za.Shape[1]} ({za.DType.Name()}, {backend.Name}): Barlow Twins loss {loss.Item():G9} = " +
                          $"on_diagonal {t[0]:G9} + {lambda:G} x off_diagonal {t[1]:G9} -> {output}");
        return 0;
    }

    /// <summary>The loss, its terms and the gradients of the loss with respect to both inputs, from fresh leaves (no
    /// gradient accumulates from one call into the next).</summary>
    private static (Tensor Loss, Tensor Terms, Tensor GradA, Tensor GradB) Gradients(Tensor za, Tensor zb, BarlowTwinsLoss loss)
    {
        var a = Leaf(za);
        var b = Leaf(zb);
        var (value, terms) = loss.Forward(a, b);
        value.Backward();
        return (value, terms, a.Grad!, b.Grad!);
    }

    private static Tensor Leaf(Tensor z)
    {
        var copy = Tensor.EmptyLike(z);
        z.Backend.Copy(z, 0, copy, 0, z.Numel);
        copy.RequiresGrad = true;
        return copy;
    }
}
