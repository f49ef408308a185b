namespace Vicreg.Engine.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void BatchNormTraining(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd) => throw new NotImplementedException();
    public void BatchNormInference(Tensor x, Tensor? gamma, Tensor? beta, Tensor runningMean, Tensor runningVar, double eps, Tensor y) => throw new NotImplementedException();
    public void BatchNormBackward(Tensor x, Tensor dy, Tensor? gamma, Tensor saveMean, Tensor saveInvStd,
        Tensor dx, Tensor? dgamma, Tensor? dbeta) => throw new NotImplementedException();
    public void MaxPool2dForward(in Pool2dGeometry g, Tensor x, Tensor y, Tensor argmax) => throw new NotImplementedException();
    public void MaxPool2dBackward(in Pool2dGeometry g, Tensor dy, Tensor argmax, Tensor dx) => throw new NotImplementedException();
    public void Unary(UnaryOp op, Tensor x, Tensor y, double alpha = 0) => throw new NotImplementedException();
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y, double alpha = 0) => throw new NotImplementedException();
    public void Axpy(double alpha, Tensor x, Tensor y) => throw new NotImplementedException();
    public void AddChannelVector(Tensor x, Tensor v, int outer, int channels, int inner, double alpha, Tensor y) => throw new NotImplementedException();
    public void ChannelSum(Tensor x, int outer, int channels, int inner, double alpha, Tensor y) => throw new NotImplementedException();
    public void ReduceSum(Tensor x, int outer, int mid, int inner, double alpha, Tensor y) => throw new NotImplementedException();
    public void Broadcast(Tensor x, int outer, int mid, int inner, double alpha, Tensor y) => throw new NotImplementedException();
    public void SumOfSquares(Tensor x, Tensor result) => throw new NotImplementedException();
    public void SoftmaxCrossEntropy(Tensor logits, Tensor labels, Tensor probabilities, Tensor meanLoss) => throw new NotImplementedException();
    public void SoftmaxCrossEntropyBackward(Tensor probabilities, Tensor labels, double scale, Tensor dlogits) => throw new NotImplementedException();
    public void SgdUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer, double lr, double weightDecay, double momentum) => throw new NotImplementedException();
    public void LarsUpdate(Tensor weight, Tensor grad, Tensor momentumBuffer, double lr, double weightDecay, double momentum, double eta, bool adapt) => throw new NotImplementedException();
}
