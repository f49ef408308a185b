using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using Vicreg.Tools.CudaKernelGenerator;

namespace Vicreg.Tests.Tools;

/// <summary>The kernel generator over sample .cu texts: a launcher follows its kernel's signature, so a call site that
/// disagrees with the kernel (count, name, width, op enum) does not compile, and what the generator cannot map, a
/// numeric op case or a stale ops.cuh stops the build with an error at the file.</summary>
public class CudaKernelGeneratorTests
{
    private const string Header = """
        #pragma once
        enum class UnaryOp : int
        {
            Copy = 0,
            Scale = 1,
        };
        """;

    private const string Kernel = """
        typedef long long i64;
        #include "ops.cuh"
        // y = op(x) * alpha
        extern "C" __global__ void scale_f32(const float* __restrict__ x, float* y, i64 n, UnaryOp op, float alpha)
        {
        }
        """;

    private const string Matching = "LaunchScaleF32(1, x: 0, y: 0, n: 5L, op: UnaryOp.Scale, alpha: 2f);";

    private sealed class Additional(string path, string text) : AdditionalText
    {
        public override string Path => path;
        public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(text);
    }

    /// <summary>Runs the generator on a class that calls <paramref name="callSite"/>; returns the generator's
    /// diagnostics, the compiler's errors afterwards, and the generated launcher source.</summary>
    private static (ImmutableArray<Diagnostic> Generator, Diagnostic[] Compiler, string Generated) Run(string cu, string callSite, string header = Header,
        string? secondModule = null)
    {
        string source = $$"""
            namespace Sample;
            public enum UnaryOp { Copy, Scale }
            [Vicreg.Tools.CudaKernelGenerator.CudaKernelLaunchers(typeof(UnaryOp))]
            public sealed unsafe partial class Backend
            {
                private void Launch(CudaKernel kernel, uint grid, void** args) { }
                public void Call() { {{callSite}} }
            }
            """;
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Select(p => MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create("Sample", [CSharpSyntaxTree.ParseText(source, parse)], references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true));
        GeneratorDriver driver = CSharpGeneratorDriver.Create([new CudaKernelGenerator().AsSourceGenerator()],
            [new Additional("/k/sample.cu", cu), new Additional("/k/ops.cuh", header), .. secondModule is null ? [] : new[] { new Additional("/k/second.cu", secondModule) }],
            parse);
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        string generated = string.Concat(driver.GetRunResult().GeneratedTrees.Where(t => t.FilePath.EndsWith("CudaKernels.g.cs")).Select(t => t.ToString()));
        return (diagnostics, output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToArray(), generated);
    }

    [Fact]
    public void A_launcher_takes_the_kernel_parameters_in_order_with_their_widths()
    {
        var (generator, compiler, generated) = Run(Kernel, Matching);
        Assert.Empty(generator);
        Assert.Empty(compiler);
        Assert.Contains("private unsafe void LaunchScaleF32(uint grid, nint x, nint y, long n, global::Sample.UnaryOp op, float alpha)", generated);
        Assert.Contains("void** args = stackalloc void*[] { &x, &y, &n, &op, &alpha };", generated);
        Assert.Contains("(\"sample\", \"scale_f32\")", generated);
    }

    [Theory]
    [InlineData("i64 n, UnaryOp op, float alpha, int extra", "CS7036")] // the kernel gained a parameter the call does not pass
    [InlineData("i64 count, UnaryOp op, float alpha", "CS1739")]        // renamed: the named argument n no longer exists
    [InlineData("int n, UnaryOp op, float alpha", "CS1503")]            // narrower: a long does not convert to int
    [InlineData("i64 n, int op, float alpha", "CS1503")]                // an op enum is not an int
    public void A_call_site_that_disagrees_with_the_kernel_does_not_compile(string tail, string error)
    {
        string changed = Kernel.Replace("i64 n, UnaryOp op, float alpha", tail);
        var (generator, compiler, _) = Run(changed, Matching);
        Assert.Empty(generator);
        Assert.Contains(compiler, d => d.Id == error);
    }

    [Theory]
    [InlineData("float alpha", "half alpha", "type 'half'")]
    [InlineData("float alpha", "float alpha, float (*f)(float)", "cannot read the parameter")]
    [InlineData("float alpha", "float alpha, int grid", "collides")]
    public void A_parameter_without_a_launcher_type_is_an_error_at_its_line(string from, string to, string message)
    {
        var (generator, _, generated) = Run(Kernel.Replace(from, to), Matching);
        var d = Assert.Single(generator);
        Assert.Equal("VKG001", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Contains(message, d.GetMessage());
        Assert.Equal(3, d.Location.GetLineSpan().StartLinePosition.Line); // 0-based: the extern "C" line
        Assert.Empty(generated);
    }

    [Fact]
    public void A_numeric_op_case_is_an_error()
    {
        string cu = Kernel + "__device__ float apply(UnaryOp op, float x) { switch (op) { case 1: return x; default: __trap(); return x; } }\n";
        var d = Assert.Single(Run(cu, Matching).Generator);
        Assert.Equal("VKG001", d.Id);
        Assert.Contains("numeric case label", d.GetMessage());
        Assert.Empty(Run(cu.Replace("case 1:", "case UnaryOp::Scale:"), Matching).Generator);
    }

    [Theory]
    [InlineData("    Scale = 1,\n", "")]                       // a member the header lacks
    [InlineData("Scale = 1", "Scale = 2")]                      // a wrong value
    [InlineData("Copy = 0,\n    Scale = 1", "Scale = 0,\n    Copy = 1")] // swapped
    [InlineData("enum class UnaryOp", "enum class UnaryOps")]   // the enum missing
    public void An_ops_header_that_disagrees_with_the_enum_is_an_error(string from, string to)
    {
        string header = Header.Replace("\r\n", "\n").Replace(from, to);
        Assert.NotEqual(Header.Replace("\r\n", "\n"), header);
        var (generator, _, _) = Run(Kernel, Matching, header);
        Assert.Contains(generator, d => d.Id == "VKG002" && d.Severity == DiagnosticSeverity.Error);
    }

    [Fact]
    public void A_kernel_declared_in_two_modules_is_an_error()
    {
        var d = Assert.Single(Run(Kernel, Matching, secondModule: Kernel).Generator);
        Assert.Equal("VKG003", d.Id);
        Assert.Contains("scale_f32 is declared in sample.cu and second.cu", d.GetMessage());
        Assert.Empty(Run(Kernel, Matching, secondModule: Kernel.Replace("scale_f32", "other_f32")).Generator);
    }

    [Fact]
    public void The_engine_kernels_all_parse_and_get_launchers()
    {
        string dir = Path.Combine(Engine.IO.PythonReference.RepositoryRoot, "engine", "Backends", "Cuda", "Kernels");
        var ops = new[] { new OpEnum("UnaryOp", "Vicreg.Engine.UnaryOp", []), new OpEnum("BinaryOp", "Vicreg.Engine.BinaryOp", []) };
        int count = 0;
        foreach (string file in Directory.GetFiles(dir, "*.cu"))
        {
            var (kernels, problems) = KernelSourceParser.Parse(Path.GetFileNameWithoutExtension(file), File.ReadAllText(file));
            Assert.Empty(problems.Select(p => $"{file}:{p.Line}: {p.Message}"));
            foreach (var k in kernels) Assert.Empty(LauncherWriter.Problems(k, ops));
            count += kernels.Count;
        }
        Assert.Equal(global::Vicreg.Engine.Backends.Cuda.CudaKernelCatalog.Entries.Length, count);
    }
}
